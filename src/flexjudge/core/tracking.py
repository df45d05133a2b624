"""Experiment tracking: W&B in offline mode by default, or nothing (`logger=none`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig


class Tracker:
    """A thin handle over a W&B run; every method is a no-op when tracking is off."""

    def __init__(self, run: Any | None = None) -> None:
        self.run = run

    @property
    def active(self) -> bool:
        return self.run is not None

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if self.run is not None:
            self.run.log(metrics, step=step)

    def summary(self, metrics: dict[str, Any]) -> None:
        if self.run is not None:
            for key, value in metrics.items():
                self.run.summary[key] = value

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()


def start_tracking(logger_cfg: DictConfig, *, stage: str, name: str, config: dict[str, Any]) -> Tracker:
    """Open one run for this stage job (W&B offline under logger.dir) or return an inactive tracker."""
    if logger_cfg.backend == "none":
        return Tracker(None)
    if logger_cfg.backend != "wandb":
        raise ValueError(f"logger.backend={logger_cfg.backend!r}: expected 'wandb' or 'none' (conf/logger/)")
    import wandb

    run_dir = Path(logger_cfg.dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project=logger_cfg.project,
        entity=logger_cfg.get("entity"),
        mode=logger_cfg.mode,
        dir=str(run_dir),
        name=name,
        group=logger_cfg.get("group") or None,
        job_type=stage,
        tags=list(logger_cfg.get("tags") or []),
        config=config,
    )
    return Tracker(run)
