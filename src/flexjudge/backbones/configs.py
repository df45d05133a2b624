"""Model configs for a Llama-family LLM inside Qwen2.5-VL or the Qwen2.5-Omni thinker: text config translation, M-RoPE sections, the media special tokens, and the small towers of the embedded defaults and test models."""

from __future__ import annotations

from typing import Any

from transformers import (
    LlamaConfig,
    PreTrainedTokenizerBase,
    Qwen2_5_VLConfig,
    Qwen2_5OmniThinkerConfig,
)

from flexjudge.backbones.chat_template import AUDIO_TOKENS, CHAT_TEMPLATE, MOLECULE_TOKEN, VISION_TOKENS

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


def add_molecule_tokens(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Add the molecular LLM's `<mol>` placeholder (if missing) and the ChatML template; return its id."""
    return _add_special_tokens(tokenizer, (MOLECULE_TOKEN,))


#: What a Llama LLM and the Qwen2 text model holding it share, setting for setting (besides vocabulary,
#: RoPE and tied embeddings): copied one way by `qwen_text_config`, back by `placement.text_llm`.
LLM_SHAPE = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "max_position_embeddings",
    "rms_norm_eps",
    "hidden_act",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
)


def qwen_text_config(llm: LlamaConfig, vocab_size: int) -> dict[str, Any]:
    """Qwen2-style text-model settings with exactly the Llama LLM's shape and RoPE (M-RoPE split)."""
    head_dim = getattr(llm, "head_dim", None) or llm.hidden_size // llm.num_attention_heads
    rope_theta = (llm.rope_parameters or {}).get("rope_theta", 10000.0)
    return dict(
        vocab_size=vocab_size,
        **{key: getattr(llm, key) for key in LLM_SHAPE},
        # The base goes inside rope_parameters; a separate rope_scaling would silently reset it to 1e6.
        rope_parameters={
            "rope_type": "default",
            "rope_theta": float(rope_theta),
            "mrope_section": mrope_section(head_dim),
        },
        tie_word_embeddings=bool(llm.tie_word_embeddings),
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
