"""Supervised fine-tuning pieces: chat examples → token ids with assistant-only labels, and two collators:
one that pads a batch, one that packs it into a single row without padding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from flexjudge.backbones.inputs import IGNORE, media_inputs


def encode_chat(
    tokenizer, messages: Sequence[dict[str, Any]], max_length: int, where: str = ""
) -> dict[str, list[int]]:
    """Token ids of a chat whose last turn is the assistant's; labels mask everything before that turn.

    Prompt and completion are tokenized separately, exactly as at inference (prompt, then generated text).
    """
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError(f"{where}: the last message must be the assistant's answer")
    prompt = tokenizer.apply_chat_template(list(messages[:-1]), tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(list(messages), tokenize=False)
    if not full.startswith(prompt):
        raise ValueError(
            f"{where}: the chat template renders the prompt differently inside the full chat; "
            "assistant-only labels need a template whose generation prompt is a prefix"
        )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    ids = (prompt_ids + completion_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + completion_ids)[:max_length]
    return {"input_ids": ids, "labels": labels}


@dataclass
class PadCollator:
    """Right-pads a batch; padded positions get attention 0 and label IGNORE.

    With media, the batch also carries the media tensors and, for Qwen2.5-VL, the token types the
    model needs to compute its 3-D positions itself.
    """

    pad_token_id: int
    token_types: bool = False  # pass `mm_token_type_ids` (Qwen2.5-VL reads them; Omni does not take them)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        types = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
            if "token_types" in f:
                types[i, :n] = torch.tensor(f["token_types"])
        batch = {"input_ids": ids, "labels": labels, "attention_mask": mask, **media_inputs(features)}
        if self.token_types and ("pixel_values" in batch or "pixel_values_videos" in batch):
            batch["mm_token_type_ids"] = types.clamp(max=2)  # audio (3) is not a vision type
        return batch


@dataclass
class PackCollator:
    """Concatenates a batch into one row with no padding; positions restart at 0 for every example.

    With no attention mask and no KV cache, transformers reads the restarting positions as separate
    sequences and builds a block-diagonal causal mask, so no example attends to another (tested); the
    batch therefore carries `use_cache=False` (with a cache the positions would be ignored). It also
    names the positions whose next token is supervised (`logits_to_keep`), so the model projects only
    those onto the vocabulary; `supervised_loss` is the matching loss. Multimodal-RoPE
    models (Qwen2.5-VL, Omni) take positions as (4, 1, length): the restarting text positions first
    (they mark the examples), then the three rotary axes: an example's own 3-D positions when it has
    media (from `MediaPacker`), else its text positions.
    """

    mrope: bool = False
    keep_logits: bool = True  # the model takes `logits_to_keep` (the Omni thinker does not; it projects all)

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        rope: list[torch.Tensor] = []
        for f in features:
            n = len(f["input_ids"])
            ids += f["input_ids"]
            labels += [IGNORE] + list(f["labels"][1:])  # the first token has no in-example predecessor
            positions += range(n)
            # an example with media brings its 3-D positions (MediaPacker); text restarts at 0 on all axes
            rope.append(f["mrope_positions"] if "mrope_positions" in f else torch.arange(n).expand(3, -1))
        pos = torch.tensor([positions], dtype=torch.long)
        target = torch.tensor(labels[1:], dtype=torch.long)
        batch = {
            "input_ids": torch.tensor([ids], dtype=torch.long),
            "labels": torch.tensor([labels], dtype=torch.long),
            "position_ids": torch.cat([pos, torch.cat(rope, dim=1)])[:, None] if self.mrope else pos,
            "use_cache": False,
            **media_inputs(features),
        }
        if self.keep_logits:  # vocabulary logits only where the next token is supervised (`supervised_loss`)
            batch["logits_to_keep"] = (target != IGNORE).nonzero().flatten()
        return batch


def supervised_loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    """Next-token cross-entropy of a packed batch whose logits were kept only at supervised positions
    (or computed everywhere, for a model without `logits_to_keep`).

    Summed over tokens and divided by the supervised tokens of the whole optimizer step when the
    Trainer passes that count (gradient accumulation, several processes), as transformers' own loss does.
    """
    supervised = labels[0, 1:] != IGNORE
    targets = labels[0, 1:][supervised]
    logits = outputs.logits[0]
    if logits.shape[0] == labels.shape[1]:  # all positions: keep those predicting a supervised token
        logits = logits[:-1][supervised.to(logits.device)]
    loss = torch.nn.functional.cross_entropy(logits.float(), targets.to(logits.device), reduction="sum")
    return loss / (num_items_in_batch if num_items_in_batch is not None else len(targets))


def uses_mrope(model) -> bool:
    """Whether the model's text positions are multimodal RoPE (Qwen2.5-VL / Omni thinker)."""
    text = model.config.get_text_config(decoder=True)
    rope = getattr(text, "rope_parameters", None) or getattr(text, "rope_scaling", None) or {}
    return "mrope_section" in rope
