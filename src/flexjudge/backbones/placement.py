"""Placing a Llama-family LLM inside a multimodal body, and copying an LLM between bodies.

A Llama decoder equals a Qwen2 decoder whose q/k/v biases are zero, and for text-only tokens M-RoPE
reduces to 1-D RoPE, so an LLM placed this way keeps its exact text behaviour inside the multimodal
class (checked by tests: max |logit diff| on text prompts).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

from flexjudge.backbones.configs import (
    LLM_SHAPE,
    add_audio_tokens,
    add_vision_tokens,
    qwen2_5_omni_thinker_config,
    qwen2_5_vl_config,
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


def generation_config_for(tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
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
    model.generation_config = generation_config_for(tokenizer)
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
    model.generation_config = generation_config_for(tokenizer)
    return model


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


@torch.no_grad()
def text_llm(model: torch.nn.Module) -> LlamaForCausalLM:
    """The LLM inside a Qwen2.5-VL / Omni-thinker judge as a plain LlamaForCausalLM (its whole vocabulary,
    media tokens included, so the judge's tokenizer still fits): what text-only servers load. Only an LLM
    that is a Llama (all q/k/v biases zero, as placed by this module) can be taken out this way."""
    from transformers import LlamaConfig

    text = getattr(model.config, "text_config", model.config)
    rope = dict(getattr(text, "rope_parameters", None) or {})
    config = LlamaConfig(
        vocab_size=text.vocab_size,
        **{key: getattr(text, key) for key in LLM_SHAPE},
        rope_parameters={"rope_type": "default", "rope_theta": float(rope.get("rope_theta", 10000.0))},
        tie_word_embeddings=bool(getattr(text, "tie_word_embeddings", model.config.tie_word_embeddings)),
        attention_bias=False,
        mlp_bias=False,
    )
    llama = LlamaForCausalLM(config).eval()
    src, dst = llm_state(model), llm_state(llama)
    extra = set(src) - set(dst)
    biased = [
        n for n in extra if not n.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")) or src[n].any()
    ]
    if biased or set(dst) - set(src):
        raise ValueError(
            f"{type(model).__name__}: its LLM is not a Llama (non-zero or unknown tensors {sorted(biased)[:3]}, "
            f"missing {sorted(set(dst) - set(src))[:3]}); serve the multimodal checkpoint itself (vLLM)"
        )
    for name, tensor in dst.items():
        tensor.copy_(src[name])
    if config.tie_word_embeddings:
        llama.tie_weights()
    return llama
