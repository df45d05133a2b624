"""The Hydra config group `benchmark`, made from the registry: one typed node per registered benchmark.

A benchmark is declared once, as a `BenchmarkSpec` in `flexjudge.benchmarks.registry`; `register()` stores
each as `benchmark/<name>` in Hydra's ConfigStore, so `benchmark=<name>` composes it, `benchmark.<key>=...`
overrides one key (typed: a misspelt key or a wrong type fails at composition) and there is no YAML to keep
in step. A run that changes the protocol from the registry's records the change (`protocol_deviations` in
metrics.json) or is refused (flexjudge.judge.runs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from flexjudge.benchmarks.registry import BENCHMARKS, BenchmarkSpec


@dataclass
class BenchmarkConfig:
    """Every key a benchmark run reads. The keys without a default are the registry entry's own
    (`BenchmarkSpec` and its `Protocol`, by the same names); the run keys after them have one."""

    name: str  # registry key (flexjudge.benchmarks.registry)
    modality: str  # text | image | video | audio | molecule (SMILES in the text)
    adapter: str  # reader of the official files (flexjudge.benchmarks.registry.ADAPTERS)
    judge_format: str  # flexjudge.protocol.formats: pair_scores | pair_verdict | verdict4 | score | batch
    path: str  # the official file or folder (a ${paths.benchmarks}/... default: point paths.benchmarks at your copies)
    media_root: str  # media paths in the rows are relative to this folder
    description: str  # what the benchmark measures (the registry's one line)
    options: dict[str, Any]  # adapter options (setting, task, split files)
    allow_tie: bool  # the prompt allows equal scores / a tie verdict (false: asks them to differ)
    tie_rule: str | None  # what equal scores of a score pair mean here, and the source of that rule
    scale: list[float] | None  # score range of each answer (score formats)
    decimals: int  # score decimals the prompt asks for
    aggregation: str  # how the votes of an item combine (majority | summed | mean | mean_score | borda)
    order: str  # answer order per item: random (seeded) | original | reversed | both
    temperature: float  # sampling temperature of each vote (the paper's protocol)
    top_p: float  # nucleus sampling mass
    votes: int  # the paper's runs per item (voting=k<votes> reproduces them)
    image_max_pixels: int  # largest image area after resizing
    video_fps: float  # frames sampled per second of video
    video_max_pixels: int  # largest frame area
    audio_rate: int  # audio sample rate (Hz, mono)
    failure_policy: str = "count_as_wrong"  # an unparsed vote: count_as_wrong | tie | default_score
    on_missing: str = "error"  # a row whose media file is missing: error | skip (counted in metrics.json)
    seed: int = 0  # seed of the random order


def benchmark_config(spec: BenchmarkSpec) -> BenchmarkConfig:
    """The config node of one registered benchmark: each registry key by its name (its protocol, format and
    data location), the run keys at their defaults."""
    entry = {**asdict(spec.protocol), **{f.name: getattr(spec, f.name) for f in fields(spec)}}
    entry["options"] = dict(spec.options)
    entry["scale"] = list(spec.scale) if spec.scale else None
    return BenchmarkConfig(**{f.name: entry[f.name] for f in fields(BenchmarkConfig) if f.name in entry})


def register() -> None:
    """Store every registered benchmark as Hydra's `benchmark/<name>` (idempotent)."""
    store = ConfigStore.instance()
    for spec in BENCHMARKS.values():
        store.store(group="benchmark", name=spec.name, node=benchmark_config(spec))


def with_benchmark_overrides(cfg: DictConfig) -> DictConfig:
    """cfg with `benchmark_overrides[<its benchmark>]` ("key=value" strings) set on its benchmark node; the
    node is typed, so a misspelt key or a wrong type is an error naming it."""
    own = list((cfg.get("benchmark_overrides") or {}).get(cfg.benchmark.name) or [])
    if not own:
        return cfg
    try:
        return OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"benchmark.{kv}" for kv in own]))
    except Exception as e:
        raise ValueError(f"benchmark_overrides.{cfg.benchmark.name}={own}: {e}") from e
