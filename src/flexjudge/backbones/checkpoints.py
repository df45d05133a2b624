"""Saving a built or fine-tuned judge: safetensors weights, the tokenizer with its chat template, and the media processor configs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import (
    PreTrainedTokenizerBase,
)

from flexjudge.core.io import disk_full, is_disk_full


def save_checkpoint(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    image_processor: Any | None = None,
    feature_extractor: Any | None = None,
) -> Path:
    """Save weights as safetensors plus tokenizer (with chat template) and media processor configs.

    Image processor and audio feature extractor share `preprocessor_config.json` (each class reads
    its own keys), as in the released Qwen2.5-Omni checkpoints. Everything is written into a temporary
    sibling folder that replaces `out_dir` only when complete, so a full disk or a kill never leaves a
    partial checkpoint under its name.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if image_processor is not None:
            image_processor.save_pretrained(tmp)
        if feature_extractor is not None:
            config = tmp / "preprocessor_config.json"
            merged = {
                **feature_extractor.to_dict(),
                **(json.loads(config.read_text()) if config.exists() else {}),
            }
            config.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
        if any(tmp.glob("*.bin")):
            raise RuntimeError(f"{out}: found .bin weights; checkpoints must be safetensors only")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):
            raise disk_full(out, exc) from exc
        raise
    return out
