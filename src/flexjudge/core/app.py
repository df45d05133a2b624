"""What every stage shares: the Hydra entry point (`stage_main`), config composition, and the start-up and
wrap-up around a stage's work (`stage_run`: seed, torch threads, a tracking run, a timer)."""

from __future__ import annotations

import functools
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from flexjudge import REPO_ROOT
from flexjudge.core.tracking import Tracker, start_tracking

#: Hydra's config directory; FLEXJUDGE_CONF points elsewhere (e.g. a copy with site-specific paths).
CONF_DIR = Path(os.environ.get("FLEXJUDGE_CONF", REPO_ROOT / "conf")).resolve()

log = logging.getLogger("flexjudge")

if not OmegaConf.has_resolver("repo_root"):
    OmegaConf.register_new_resolver("repo_root", lambda: str(REPO_ROOT))


def stage_main(config_name: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[], Any]]:
    """Turn `run(cfg)` into a Hydra command-line app reading conf/<config_name>.yaml."""

    def wrap(run: Callable[[DictConfig], Any]) -> Callable[[], Any]:
        @hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")
        @functools.wraps(run)
        def main(cfg: DictConfig) -> None:
            run(cfg)

        return main

    return wrap


def compose(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose a stage config without running the app (tests, notebooks, the Snakefile's checks)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides or []))


def compose_like_this_run(
    config_name: str, chosen: list[str], drop: set[str] | frozenset = frozenset()
) -> DictConfig:
    """Compose `config_name` as this Hydra run was composed: its command-line overrides, less the keys in
    `drop` and those `chosen` sets, plus `chosen` (e.g. another benchmark for one member of a group)."""
    from hydra import compose as hydra_compose
    from hydra.core.hydra_config import HydraConfig

    skip = set(drop) | {o.split("=", 1)[0] for o in chosen}
    base = [o for o in HydraConfig.get().overrides.task if o.split("=", 1)[0].lstrip("+~") not in skip]
    return hydra_compose(config_name=config_name, overrides=[*base, *chosen])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and (if imported) torch."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    import sys

    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def setup_torch(threads: int | None) -> None:
    """Pin torch's CPU thread count (None keeps torch's choice)."""
    import torch

    if threads:
        torch.set_num_threads(int(threads))


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain Python containers (for JSON manifests and W&B)."""
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


@dataclass
class StageRun:
    """A running stage job: its resolved config, its tracking run and its clock."""

    config: dict[str, Any]
    tracker: Tracker
    started: float = field(default_factory=time.time)

    def seconds(self) -> float:
        """Wall time since the stage started, to a tenth of a second."""
        return round(time.time() - self.started, 1)


@contextmanager
def stage_run(
    cfg: DictConfig,
    stage: str,
    name: str | None = None,
    *,
    logger: DictConfig | None = None,
    seed: bool = False,
    torch_threads: bool = False,
) -> Iterator[StageRun]:
    """Start-up and wrap-up of one stage job: optionally seed python/numpy/torch from cfg.seed and pin
    torch to cfg.threads, then open a tracking run (cfg.logger, or `logger`) that is closed on the way out."""
    if seed or torch_threads:
        seed_everything(cfg.seed)
    if torch_threads:
        setup_torch(cfg.threads)
    plain = to_plain(cfg)
    with start_tracking(
        logger if logger is not None else cfg.logger, stage=stage, name=name or stage, config=plain
    ) as tracker:
        run = StageRun(plain, tracker)
        yield run
    log.info("%s: done in %.1f s", stage, run.seconds())
