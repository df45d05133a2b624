"""Batched sampling with transformers: length-sorted batches, left padding, k samples per prompt."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: temperature 0 means greedy; `n` samples per prompt."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0
    stop_strings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Generation:
    """One sampled continuation: its text, generated token count, and whether it ended on its own."""

    text: str
    n_tokens: int
    finished: bool


def _trim(row: torch.Tensor, stop_ids: set[int]) -> tuple[list[int], bool]:
    ids = row.tolist()
    for i, tok in enumerate(ids):
        if tok in stop_ids:
            return ids[:i], True
    return ids, False


@torch.inference_mode()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    params: SamplingParams,
    *,
    batch_size: int = 16,
    desc: str = "generate",
    progress: bool = True,
) -> list[list[Generation]]:
    """Sample `params.n` continuations for each prompt; results keep the prompts' order.

    Prompts are tokenized without extra special tokens (the chat template already placed them),
    sorted by length so a batch pads little, and left-padded so every row ends at the same position.
    """
    if not prompts:
        return []
    if tokenizer.pad_token_id is None:
        raise ValueError("tokenizer has no pad token; set one in the checkpoint's tokenizer config")
    tokenizer.padding_side = "left"
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (-len(encoded[i]), i))
    eos = (
        model.generation_config.eos_token_id
        if model.generation_config.eos_token_id is not None
        else tokenizer.eos_token_id
    )
    stop_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.pad_token_id}
    sample = params.temperature > 0
    torch.manual_seed(params.seed)
    results: list[list[Generation] | None] = [None] * len(prompts)
    bar = tqdm(
        total=len(prompts) * params.n, desc=desc, unit="sample", disable=not progress, dynamic_ncols=True
    )
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(model.device)
        kwargs = (
            dict(do_sample=sample, temperature=params.temperature, top_p=params.top_p)
            if sample
            else dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        )
        if params.stop_strings:
            kwargs.update(stop_strings=list(params.stop_strings), tokenizer=tokenizer)
        out = model.generate(
            **batch,
            max_new_tokens=params.max_new_tokens,
            num_return_sequences=params.n,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
            **kwargs,
        )
        new = out[:, batch["input_ids"].shape[1] :].cpu()
        for j, i in enumerate(idx):
            gens = []
            for row in new[j * params.n : (j + 1) * params.n]:
                ids, ended = _trim(row, stop_ids)
                text = tokenizer.decode(ids, skip_special_tokens=True)
                stopped = ended or any(s in text for s in params.stop_strings)
                gens.append(Generation(text, len(ids) + int(ended), stopped))
            results[i] = gens
        bar.update(len(idx) * params.n)
    bar.close()
    return results  # type: ignore[return-value]
