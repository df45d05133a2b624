"""Build Qwen2.5-VL / Qwen2.5-Omni-thinker checkpoints around a Llama-family LLM: embedded defaults, tiny test models.

A Llama decoder equals a Qwen2 decoder whose q/k/v biases are zero, and for text-only tokens M-RoPE
reduces to 1-D RoPE, so an LLM placed this way keeps its exact text behaviour inside the multimodal
class (checked by tests: max |logit diff| on text prompts).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    Qwen2_5OmniConfig,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

from flexjudge.backbones.chat_template import AUDIO_TOKENS, CHAT_TEMPLATE, VISION_TOKENS

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

#: A small, untrained Whisper-style audio encoder for the Omni thinker (128 mel bins as the real one).
SMALL_AUDIO: dict[str, Any] = dict(
    num_mel_bins=128,
    encoder_layers=2,
    encoder_attention_heads=2,
    encoder_ffn_dim=128,
    d_model=64,
    n_window=100,
    max_source_positions=1500,
)

#: Even smaller towers for the tiny random test models.
TINY_VISION: dict[str, Any] = dict(
    depth=1, hidden_size=16, intermediate_size=32, num_heads=1, fullatt_block_indexes=[0]
)
TINY_AUDIO: dict[str, Any] = dict(encoder_layers=1, encoder_attention_heads=1, encoder_ffn_dim=32, d_model=16)


def mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width) in Qwen's 1:1.5:1.5 proportion."""
    half = head_dim // 2
    t = half // 4
    h = (half - t) // 2
    return [t, h, half - t - h]


def _add_special_tokens(tokenizer: PreTrainedTokenizerBase, tokens: tuple[str, ...]) -> dict[str, int]:
    missing = [t for t in tokens if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens(
            {"additional_special_tokens": missing}, replace_extra_special_tokens=False
        )
    tokenizer.chat_template = CHAT_TEMPLATE
    return {t: tokenizer.convert_tokens_to_ids(t) for t in tokens}


def add_vision_tokens(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Add the Qwen2-VL media special tokens (if missing) and the ChatML template; return their ids."""
    return _add_special_tokens(tokenizer, VISION_TOKENS)


def add_audio_tokens(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Add the Qwen2.5-Omni audio special tokens (if missing) and the ChatML template; return their ids."""
    return _add_special_tokens(tokenizer, AUDIO_TOKENS)


def qwen_text_config(llm: LlamaConfig, vocab_size: int) -> dict[str, Any]:
    """Qwen2-style text-model settings with exactly the Llama LLM's shape and RoPE (M-RoPE split)."""
    head_dim = getattr(llm, "head_dim", None) or llm.hidden_size // llm.num_attention_heads
    rope_theta = (llm.rope_parameters or {}).get("rope_theta", 10000.0)
    return dict(
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
        tie_word_embeddings=bool(llm.tie_word_embeddings),
        bos_token_id=llm.bos_token_id,
        eos_token_id=llm.eos_token_id,
        pad_token_id=llm.pad_token_id,
    )


def qwen2_5_vl_config(
    llm: LlamaConfig, vocab_size: int, token_ids: dict[str, int], vision: dict[str, Any] | None = None
) -> Qwen2_5_VLConfig:
    """A Qwen2.5-VL config whose text model has exactly the Llama LLM's shape and RoPE."""
    text = qwen_text_config(llm, vocab_size)
    text.pop("tie_word_embeddings")
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config={**SMALL_VISION, **(vision or {}), "out_hidden_size": llm.hidden_size},
        vision_start_token_id=token_ids["<|vision_start|>"],
        vision_end_token_id=token_ids["<|vision_end|>"],
        image_token_id=token_ids["<|image_pad|>"],
        video_token_id=token_ids["<|video_pad|>"],
        tie_word_embeddings=bool(llm.tie_word_embeddings),
    )


def qwen2_5_omni_thinker_config(
    llm: LlamaConfig,
    vocab_size: int,
    token_ids: dict[str, int],
    vision: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
) -> Qwen2_5OmniThinkerConfig:
    """A Qwen2.5-Omni thinker config whose text model has exactly the Llama LLM's shape and RoPE."""
    return Qwen2_5OmniThinkerConfig(
        text_config=qwen_text_config(llm, vocab_size),
        vision_config={**SMALL_VISION, **(vision or {}), "out_hidden_size": llm.hidden_size},
        audio_config={**SMALL_AUDIO, **(audio or {}), "output_dim": llm.hidden_size},
        image_token_index=token_ids["<|image_pad|>"],
        video_token_index=token_ids["<|video_pad|>"],
        audio_token_index=token_ids["<|AUDIO|>"],
        audio_start_token_id=token_ids["<|audio_bos|>"],
        audio_end_token_id=token_ids["<|audio_eos|>"],
        vision_start_token_id=token_ids["<|vision_start|>"],
        vision_end_token_id=token_ids["<|vision_end|>"],
        tie_word_embeddings=bool(llm.tie_word_embeddings),
    )


@torch.no_grad()
def _transfer_llm(llm: LlamaForCausalLM, model: torch.nn.Module, towers: tuple[str, ...]) -> None:
    """Load `llm`'s weights into `model.model.language_model` (+ lm_head), growing the vocabulary.

    New token embeddings are the mean of the existing ones; q/k/v biases are zero; parameters under
    `towers` keep their random initialisation.
    """
    tie = bool(llm.config.tie_word_embeddings)
    target = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, value in llm.state_dict().items():
        if key == "lm_head.weight" and tie:
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
    not_loaded = [k for k in missing if not k.startswith(towers) and k != "lm_head.weight"]
    if not_loaded or unexpected:
        raise RuntimeError(
            f"weight transfer incomplete: missing {not_loaded[:5]}, unexpected {unexpected[:5]}"
        )
    if tie:
        model.tie_weights()
        out, inp = model.get_output_embeddings().weight, model.get_input_embeddings().weight
        if out.data_ptr() != inp.data_ptr():
            raise RuntimeError(f"{type(model).__name__}: lm_head did not tie to the input embeddings")


def _generation_config(tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    return GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
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
    _transfer_llm(llm, model, ("model.visual.",))
    model.generation_config = _generation_config(tokenizer)
    return model


@torch.no_grad()
def place_llm_in_qwen2_5_omni_thinker(
    llm: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerBase,
    *,
    vision: dict[str, Any] | None = None,
    audio: dict[str, Any] | None = None,
    seed: int = 0,
) -> Qwen2_5OmniThinkerForConditionalGeneration:
    """Return a Qwen2.5-Omni thinker carrying `llm`'s weights; adds vision + audio tokens to `tokenizer`.

    As for Qwen2.5-VL: the thinker's text model is Qwen2-style, so the Llama weights map in unchanged
    (zero q/k/v biases); the audio tower and vision tower keep their random initialisation (seeded).
    """
    token_ids = {**add_vision_tokens(tokenizer), **add_audio_tokens(tokenizer)}
    config = qwen2_5_omni_thinker_config(llm.config, len(tokenizer), token_ids, vision, audio)
    torch.manual_seed(seed)
    model = Qwen2_5OmniThinkerForConditionalGeneration(config).to(torch.float32).eval()
    _transfer_llm(llm, model, ("model.visual.", "model.audio_tower."))
    model.generation_config = _generation_config(tokenizer)
    return model


def _tokenizer_corpus() -> Iterator[str]:
    """A small fixed corpus (a score-pair prompt and its answer) the tiny test tokenizer is trained on."""
    from flexjudge.protocol.formats import PairScores
    from flexjudge.protocol.prompts import judge_completion

    system, user = PairScores().messages(
        "Human: How do I boil an egg?", ["Put it in boiling water for 8 minutes.", "I cannot help with that."]
    )
    for _ in range(4):
        yield system["content"]
        yield user["content"]
        yield judge_completion("Reply A answers the question; reply B refuses for no reason.", [8, 2])


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with ChatML and media special tokens, trained in-process in milliseconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

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
    tok.train_from_iterator(_tokenizer_corpus(), trainer)
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
    return place_llm_in_qwen2_5_vl(llm, tokenizer, vision=TINY_VISION, seed=seed), tokenizer


def tiny_qwen2_5_omni_thinker(
    seed: int = 0,
) -> tuple[Qwen2_5OmniThinkerForConditionalGeneration, PreTrainedTokenizerFast]:
    """A randomly initialised tiny Qwen2.5-Omni thinker (same classes as the 7B) with its tokenizer."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    llm = LlamaForCausalLM(tiny_llama_config(tokenizer)).eval()
    model = place_llm_in_qwen2_5_omni_thinker(llm, tokenizer, vision=TINY_VISION, audio=TINY_AUDIO, seed=seed)
    return model, tokenizer


def tiny_llama(seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A randomly initialised tiny text-only Llama (the molecule-case LLM class) with its tokenizer."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(tokenizer)).to(torch.float32).eval()
    model.generation_config = _generation_config(tokenizer)
    return model, tokenizer


def tiny_omni_speech_configs(thinker: Qwen2_5OmniThinkerConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tiny talker and token2wav configs (random, untrained) that fit around `thinker` in the full Omni class.

    They exist only so the full Qwen2.5-Omni checkpoint layout can be written and loaded in tests; the
    judge never speaks. Token ids the talker reads are the thinker's.
    """
    text = thinker.get_text_config()
    talker = dict(
        vocab_size=64,
        embedding_size=text.hidden_size,  # the talker reads the thinker's embeddings and hidden states
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        audio_token_index=thinker.audio_token_index,
        image_token_index=thinker.image_token_index,
        video_token_index=thinker.video_token_index,
        audio_start_token_id=thinker.audio_start_token_id,
        audio_end_token_id=thinker.audio_end_token_id,
        vision_start_token_id=getattr(thinker, "vision_start_token_id", None),
        vision_end_token_id=getattr(thinker, "vision_end_token_id", None),
        tts_codec_start_token_id=60,
        tts_codec_end_token_id=61,
        tts_codec_pad_token_id=62,
        tts_codec_mask_token_id=63,
        tts_text_start_token_id=text.bos_token_id,
        tts_text_end_token_id=text.eos_token_id,
        tts_text_pad_token_id=text.pad_token_id,
    )
    token2wav = dict(
        dit_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            head_dim=16,
            ff_mult=1,
            emb_dim=16,
            num_embeds=64,
            mel_dim=16,
            enc_emb_dim=16,
            enc_dim=16,
            enc_channels=[16, 16, 16, 16, 48],
            enc_attention_channels=8,
            enc_se_channels=8,
            look_ahead_layers=[0],
            look_backward_layers=[0],
        ),
        bigvgan_config=dict(
            mel_dim=16,
            upsample_initial_channel=16,
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3, 5]],
            upsample_rates=[2],
            upsample_kernel_sizes=[4],
        ),
    )
    return talker, token2wav


@torch.no_grad()
def thinker_into_full_omni(
    thinker: Qwen2_5OmniThinkerForConditionalGeneration,
    *,
    base: Qwen2_5OmniForConditionalGeneration | None = None,
    seed: int = 0,
) -> Qwen2_5OmniForConditionalGeneration:
    """Put a (trained) thinker back into the full Qwen2.5-Omni model, as the paper does before saving.

    With `base` (the original full model: its talker and token2wav are kept) the thinker replaces
    `base.thinker`; without it a full model is built around the thinker with tiny random speech modules
    (tests and small defaults). The thinker's weights are copied, so later training of `thinker` does
    not change the returned model.
    """
    if base is None:
        talker, token2wav = tiny_omni_speech_configs(thinker.config)
        config = Qwen2_5OmniConfig(
            thinker_config=thinker.config.to_dict(), talker_config=talker, token2wav_config=token2wav
        )
        torch.manual_seed(seed)
        base = Qwen2_5OmniForConditionalGeneration(config).to(torch.float32).eval()
    base.thinker.load_state_dict(thinker.state_dict(), strict=True)
    base.thinker.tie_weights()
    base.thinker.generation_config = thinker.generation_config
    return base


def save_full_omni(
    thinker: Qwen2_5OmniThinkerForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    *,
    base: Qwen2_5OmniForConditionalGeneration | None = None,
    speakers: str | Path | None = None,
    image_processor: Any | None = None,
    feature_extractor: Any | None = None,
) -> Path:
    """Save `thinker` inside the full Qwen2.5-Omni class (safetensors) so that
    `Qwen2_5OmniForConditionalGeneration.from_pretrained(out_dir).thinker` carries its weights.

    That loader also requires `spk_dict.pt` (speaker conditioning for the talker): copied from `speakers`
    (the base checkpoint's file) or, for tiny random models, a small random one matching the token2wav.
    """
    import shutil

    full = thinker_into_full_omni(thinker, base=base)
    out = save_checkpoint(full, tokenizer, out_dir, image_processor, feature_extractor)
    if speakers is not None:
        shutil.copyfile(speakers, out / "spk_dict.pt")
    else:
        dit = full.config.token2wav_config.dit_config
        generator = torch.Generator().manual_seed(0)
        speaker = {
            "cond": torch.randn(1, dit.enc_emb_dim, generator=generator),
            "ref_mel": torch.randn(1, 8, dit.mel_dim, generator=generator),
            "bos_token": int(full.config.talker_config.tts_codec_start_token_id),
        }
        torch.save({"Chelsie": speaker}, out / "spk_dict.pt")
    return out


def llm_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The LLM's parameters of a Qwen2.5-VL, Omni-thinker or Llama model, keyed the same way for all."""
    out = {}
    for name, tensor in model.state_dict().items():
        for prefix in ("model.language_model.", "model."):
            if name.startswith(prefix) and not name.startswith(("model.visual.", "model.audio_tower.")):
                out["llm." + name[len(prefix) :]] = tensor
                break
        else:
            if name.startswith("lm_head."):
                out[name] = tensor
    return out


@torch.no_grad()
def transplant_llm(source: torch.nn.Module, target: torch.nn.Module) -> int:
    """Copy `source`'s LLM weights into `target` (e.g. a fine-tuned Qwen2.5-VL's into its Omni-thinker
    twin). Vocabulary rows are copied for the tokens both have (the twin's extra media tokens keep
    theirs); every other LLM tensor must match in shape. Returns the number of tensors copied."""
    src, dst = llm_state(source), llm_state(target)
    if set(src) != set(dst):
        raise ValueError(
            f"LLMs differ: only in source {sorted(set(src) - set(dst))[:3]}, only in target {sorted(set(dst) - set(src))[:3]}"
        )
    for name, tensor in src.items():
        into = dst[name]
        if tensor.shape == into.shape:
            into.copy_(tensor)
        elif tensor.dim() == 2 and tensor.shape[1] == into.shape[1] and tensor.shape[0] <= into.shape[0]:
            into[: tensor.shape[0]].copy_(tensor)  # embeddings / lm_head: shared vocabulary rows
        else:
            raise ValueError(
                f"{name}: source shape {tuple(tensor.shape)} does not fit target {tuple(into.shape)}"
            )
    return len(src)


def omni_feature_extractor():
    """A Whisper log-mel feature extractor for the Omni audio tower: 128 bins, 16 kHz, 30 s window."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=SMALL_AUDIO["num_mel_bins"], sampling_rate=16_000)


def save_checkpoint(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    image_processor: Any | None = None,
    feature_extractor: Any | None = None,
) -> Path:
    """Save weights as safetensors plus tokenizer (with chat template) and media processor configs.

    Image processor and audio feature extractor share `preprocessor_config.json` (each class reads
    its own keys), as in the released Qwen2.5-Omni checkpoints.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if image_processor is not None:
        image_processor.save_pretrained(out)
    if feature_extractor is not None:
        config = out / "preprocessor_config.json"
        merged = {
            **feature_extractor.to_dict(),
            **(json.loads(config.read_text()) if config.exists() else {}),
        }
        config.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    if any(out.glob("*.bin")):
        raise RuntimeError(f"{out}: found .bin weights; checkpoints must be safetensors only")
    return out
