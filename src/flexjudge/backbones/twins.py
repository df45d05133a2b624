"""Twin backbones: the same LLM inside two model bodies (e.g. Qwen2.5-VL and the Qwen2.5-Omni thinker). A
fine-tuned judge's LLM is copied into its twin, and the copy is proven: both tokenize text alike and give
equal text logits."""

from __future__ import annotations

from typing import Any

import torch

PROBE = "Which reply is more helpful, A or B? Think step by step."
#: The largest difference in text logits a faithful copy may show (fp32).
MAX_LOGIT_DIFF = 1e-4


def make_twin(source_manifest: str, base_manifest: str) -> tuple[Any, Any, dict[str, Any]]:
    """The judge at `base_manifest` with the LLM of the judge at `source_manifest`: (source, twin, summary)."""
    from flexjudge.backbones.loader import load_judge
    from flexjudge.backbones.placement import transplant_llm

    source = load_judge(source_manifest, device="cpu")
    twin = load_judge(base_manifest, device="cpu")
    copied = transplant_llm(source.model, twin.model)
    ids = source.tokenizer(PROBE, add_special_tokens=False, return_tensors="pt")
    if not torch.equal(
        ids["input_ids"], twin.tokenizer(PROBE, add_special_tokens=False, return_tensors="pt")["input_ids"]
    ):
        raise ValueError(
            f"{source_manifest} and {base_manifest} tokenize text differently; they are not twins"
        )
    with torch.no_grad():
        a = source.model(**ids).logits
        b = twin.model(**ids).logits[..., : a.shape[-1]]
    diff = (a - b).abs().max().item()
    if diff > MAX_LOGIT_DIFF:
        raise RuntimeError(
            f"twin's text logits differ from the source judge's by {diff:.2e} after the transplant"
        )
    return (
        source,
        twin,
        {"tensors_copied": copied, "text_logit_max_diff": diff, "source_judge": str(source_manifest)},
    )
