"""Stage `provision`: make a backbone loadable and write its judge.json manifest.

Recipes build small checkpoints here (the embedded default, tiny random test models); hub and local
backbones are only recorded (their weights load where the user has them).
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from flexjudge.backbones.recipes import provision_backbone
from flexjudge.core.app import stage_main, stage_run

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> Path:
    """Provision cfg.backbone into cfg.out_dir and return the manifest path."""
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(cfg, "provision", f"provision-{cfg.backbone.name}", torch_threads=True) as st:
        manifest = provision_backbone(cfg, out)
        st.tracker.summary({"seconds": st.seconds()})
    log.info("wrote %s in %.1fs", manifest, st.seconds())
    return manifest


main = stage_main("provision")(run)

if __name__ == "__main__":
    main()
