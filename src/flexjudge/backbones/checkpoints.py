"""Saving a built or fine-tuned judge: safetensors weights, the tokenizer with its chat template, and the media processor configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import (
    PreTrainedTokenizerBase,
)


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
