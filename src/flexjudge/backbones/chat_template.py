"""The chat template written into provisioned checkpoints (ChatML turns, Qwen2-VL media placeholders)."""

#: Special tokens the Qwen2.5-VL processor and model look up by name.
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
AUDIO_TOKENS = ("<|audio_bos|>", "<|audio_eos|>", "<|AUDIO|>")
#: The molecular LLM's placeholder (flexjudge.backbones.molecular.MOL_TOKEN), one per molecule part.
MOLECULE_TOKEN = "<mol>"

# A message's content is a string or a list of parts {"type": "text"|"image"|"video"|"audio"|"molecule", ...}.
# Media parts become placeholder runs that the processor expands to the right number of tokens.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' or 'image' in part -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'video' or 'video' in part -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'audio' or 'audio' in part -%}"
    "{{- '<|audio_bos|><|AUDIO|><|audio_eos|>' -}}"
    "{%- elif part['type'] == 'molecule' -%}"
    "{{- '<mol>' -}}"
    "{%- else -%}"
    "{{- part['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

#: LLaVA's image placeholder, one per image part (the processor's count of tokens replaces it: MediaPacker).
LLAVA_IMAGE_TOKEN = "<image>"
#: The same ChatML turns with LLaVA's placeholder, for the tiny LLaVA classes (a real LLaVA checkpoint
#: brings its own template: vicuna for LLaVA-1.5, ChatML for LLaVA-OneVision).
LLAVA_CHAT_TEMPLATE = CHAT_TEMPLATE.replace("'<|vision_start|><|image_pad|><|vision_end|>'", "'<image>'")
