"""A benchmark as configured (its registry entry, composed by Hydra as `benchmark=<name>` or made here for
one name): its items through its adapter, with the missing-media policy; the one loader evaluate and
curate share."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flexjudge.benchmarks.base import Loaded, Source, load_benchmark
from flexjudge.benchmarks.config import benchmark_config
from flexjudge.benchmarks.registry import ADAPTERS, BENCHMARKS
from flexjudge.core.app import to_plain
from flexjudge.core.io import DataError

log = logging.getLogger(__name__)


def configured(name: str, paths: DictConfig) -> DictConfig:
    """Benchmark `name`'s config node (as `benchmark=<name>` composes it), its ${paths...} resolved
    against `paths`."""
    node = OmegaConf.structured(benchmark_config(BENCHMARKS[name]))
    return OmegaConf.merge({"paths": paths}, node)


def load_configured(
    b: DictConfig, results: str | Path, limit: int | None = None, on_missing: str | None = None
) -> Loaded:
    """The items of benchmark config `b` through its adapter; media embedded in the data are written once
    under <results>/media/<name>; `on_missing` overrides the config's missing-media policy."""
    source = Source(
        Path(b.path), Path(b.media_root), Path(results) / "media" / b.name, on_missing or b.on_missing
    )
    return load_benchmark(ADAPTERS[b.adapter], source, to_plain(b.options), limit)


def benchmark_prompts(names, paths: DictConfig, on_missing: str, report: dict[str, Any]) -> Iterator[str]:
    """The questions of the benchmarks `names` ("all": every registered one), read by their own adapters
    from the files their configs name; a benchmark without files is an error, or with on_missing=skip is
    listed in report["unchecked"]. Counts go to report["checked"]."""
    names = sorted(BENCHMARKS) if names == "all" else list(names)
    for name in names:
        if BENCHMARKS[name].curated:  # curate's own held-out split: disjoint by construction
            continue
        conf = configured(name, paths)
        if not Path(conf.path).exists():
            if on_missing == "error":
                raise DataError(
                    f"decontamination: benchmark {name} has no data at {conf.path}; build the minis or set "
                    "paths.benchmarks (or decontaminate.on_missing=skip to list it as unchecked)"
                )
            report["unchecked"].append(name)
            continue
        loaded = load_configured(conf, paths.results, on_missing="skip")
        report["checked"][name] = len(loaded.items)
        for item in loaded.items:
            yield item.question
