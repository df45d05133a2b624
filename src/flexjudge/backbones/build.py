"""Build Qwen2.5-VL checkpoints around a given Llama-family LLM: the embedded default and tiny test models.

A Llama decoder equals a Qwen2 decoder whose q/k/v biases are zero, and for text-only tokens M-RoPE
reduces to 1-D RoPE, so an LLM placed this way keeps its exact text behaviour inside the multimodal
class (checked by tests: max |logit diff| on text prompts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
)

from flexjudge.backbones.chat_template import CHAT_TEMPLATE, VISION_TOKENS

#: A small, untrained vision tower: enough to exercise the real image code path on CPU.
SMALL_VISION: dict[str, Any] = dict(
    depth=2,
    hidden_size=64,
    intermediate_size=128,
    num_heads=2,
    patch_size=14,
    spatial_merge_size=2,
    temporal_patch_size=2,
    window_size=112,
    fullatt_block_indexes=[1],
)


def mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) in Qwen's 1:1.5:1.5 proportion."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def add_vision_tokens(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Add the Qwen2-VL media special tokens (if missing) and the ChatML template; return their ids."""
    missing = [t for t in VISION_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens(
            {"additional_special_tokens": missing}, replace_extra_special_tokens=False
        )
    tokenizer.chat_template = CHAT_TEMPLATE
    return {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_TOKENS}


def qwen2_5_vl_config(
    llm: LlamaConfig, vocab_size: int, token_ids: dict[str, int], vision: dict[str, Any] | None = None
) -> Qwen2_5_VLConfig:
    """A Qwen2.5-VL config whose text model has exactly the Llama LLM's shape and RoPE."""
    head_dim = getattr(llm, "head_dim", None) or llm.hidden_size // llm.num_attention_heads
    rope_theta = (llm.rope_parameters or {}).get("rope_theta", 10000.0)
    text = dict(
        vocab_size=vocab_size,
        hidden_size=llm.hidden_size,
        intermediate_size=llm.intermediate_size,
        num_hidden_layers=llm.num_hidden_layers,
        num_attention_heads=llm.num_attention_heads,
        num_key_value_heads=llm.num_key_value_heads,
        max_position_embeddings=llm.max_position_embeddings,
        rms_norm_eps=llm.rms_norm_eps,
        hidden_act=llm.hidden_act,
        # The base goes inside rope_parameters; a separate rope_scaling would silently reset it to 1e6.
        rope_parameters={
            "rope_type": "default",
            "rope_theta": float(rope_theta),
            "mrope_section": mrope_section(head_dim),
        },
        bos_token_id=llm.bos_token_id,
        eos_token_id=llm.eos_token_id,
        pad_token_id=llm.pad_token_id,
    )
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config={**SMALL_VISION, **(vision or {}), "out_hidden_size": llm.hidden_size},
        vision_start_token_id=token_ids["<|vision_start|>"],
        vision_end_token_id=token_ids["<|vision_end|>"],
        image_token_id=token_ids["<|image_pad|>"],
        video_token_id=token_ids["<|video_pad|>"],
        tie_word_embeddings=bool(llm.tie_word_embeddings),
    )


@torch.no_grad()
def place_llm_in_qwen2_5_vl(
    llm: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerBase,
    *,
    vision: dict[str, Any] | None = None,
    seed: int = 0,
) -> Qwen2_5_VLForConditionalGeneration:
    """Return a Qwen2.5-VL model carrying `llm`'s weights; adds media tokens to `tokenizer` in place.

    New token embeddings are the mean of the existing ones; q/k/v biases are zero; the vision tower
    and merger keep their random initialisation (seeded).
    """
    token_ids = add_vision_tokens(tokenizer)
    config = qwen2_5_vl_config(llm.config, len(tokenizer), token_ids, vision)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()
    target = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, value in llm.state_dict().items():
        if key == "lm_head.weight" and config.tie_word_embeddings:
            continue
        new_key = key.replace("model.", "model.language_model.", 1) if key.startswith("model.") else key
        if new_key not in target:
            raise KeyError(f"{key} of the LLM has no place in {type(model).__name__} (looked for {new_key})")
        if key.endswith(("embed_tokens.weight", "lm_head.weight")):
            grown = value.new_empty(target[new_key].shape)
            grown[: value.shape[0]] = value
            grown[value.shape[0] :] = value.mean(0, keepdim=True)
            value = grown
        if target[new_key].shape != value.shape:
            raise ValueError(
                f"{key}: shape {tuple(value.shape)} != {tuple(target[new_key].shape)} in {new_key}"
            )
        state[new_key] = value.to(torch.float32)
    for key in target:
        if "language_model" in key and key.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
            state[key] = torch.zeros_like(target[key])
    missing, unexpected = model.load_state_dict(state, strict=False)
    not_loaded = [k for k in missing if not k.startswith("model.visual.") and k != "lm_head.weight"]
    if not_loaded or unexpected:
        raise RuntimeError(
            f"weight transfer incomplete: missing {not_loaded[:5]}, unexpected {unexpected[:5]}"
        )
    model.tie_weights()
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    return model


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with ChatML and media special tokens, trained in-process in milliseconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from flexjudge.judge.prompts import tokenizer_training_text

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *VISION_TOKENS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(tokenizer_training_text(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|im_start|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_llama_config(tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    """A 2-layer Llama config (hidden 32) for tests; RoPE base as SmolLM2's."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def tiny_qwen2_5_vl(seed: int = 0) -> tuple[Qwen2_5_VLForConditionalGeneration, PreTrainedTokenizerFast]:
    """A randomly initialised tiny Qwen2.5-VL (same classes as the 7B) with its tokenizer, in seconds."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    llm = LlamaForCausalLM(tiny_llama_config(tokenizer)).eval()
    vision = dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=1, fullatt_block_indexes=[0])
    return place_llm_in_qwen2_5_vl(llm, tokenizer, vision=vision, seed=seed), tokenizer


def save_checkpoint(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    image_processor: Any | None = None,
) -> Path:
    """Save weights as safetensors plus tokenizer (with chat template) and image processor config."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if image_processor is not None:
        image_processor.save_pretrained(out)
    if any(out.glob("*.bin")):
        raise RuntimeError(f"{out}: found .bin weights; checkpoints must be safetensors only")
    return out
