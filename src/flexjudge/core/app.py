"""Hydra plumbing shared by the stage entry points: config location, resolvers, runtime setup."""

from __future__ import annotations

import functools
import logging
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from flexjudge import REPO_ROOT

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
