"""The Hydra config group `benchmark`, made from the registry: one typed node per registered benchmark.

A benchmark is declared once, as a `BenchmarkSpec` in `flexjudge.benchmarks.registry`; `register()` stores
each as `benchmark/<name>` in Hydra's ConfigStore, so `benchmark=<name>` composes it, `benchmark.<key>=...`
overrides one key (typed: a misspelt key or a wrong type fails at composition) and there is no YAML to keep
in step. A run that changes the protocol from the registry's records the change (`protocol_deviations` in
metrics.json) or is refused (flexjudge.judge.runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from flexjudge.benchmarks.registry import BENCHMARKS, BenchmarkSpec


@dataclass
class BenchmarkConfig:
    """Every key a benchmark run reads; the defaults of each benchmark come from its registry entry."""

    name: str  # registry key (flexjudge.benchmarks.registry)
    modality: str  # text | image | video | audio | molecule (SMILES in the text)
    adapter: str  # reader of the official files (flexjudge.benchmarks.registry.ADAPTERS)
    judge_format: str  # flexjudge.protocol.formats: pair_scores | pair_verdict | verdict4 | score | batch
    path: str  # the official file or folder (a ${paths.benchmarks}/... default: point paths.benchmarks at your copies)
    media_root: str  # media paths in the rows are relative to this folder
    description: str = ""  # what the benchmark measures (the registry's one line)
    options: dict[str, Any] = field(default_factory=dict)  # adapter options (setting, task, split files)
    allow_tie: bool = True  # the prompt allows equal scores / a tie verdict (false: asks them to differ)
    tie_rule: str | None = None  # what equal scores of a score pair mean here, and the source of that rule
    scale: list[float] | None = None  # score range of each answer (score formats)
    decimals: int = 0  # score decimals the prompt asks for
    aggregation: str = (
        "majority"  # how the votes of an item combine (majority | summed | mean | mean_score | borda)
    )
    failure_policy: str = "count_as_wrong"  # an unparsed vote: count_as_wrong | tie | default_score
    on_missing: str = "error"  # a row whose media file is missing: error | skip (counted in metrics.json)
    order: str = "random"  # answer order per item: random (seeded) | original | reversed | both
    seed: int = 0  # seed of the random order
    temperature: float = 0.6  # sampling temperature of each vote (the paper's protocol)
    top_p: float = 0.95  # nucleus sampling mass
    votes: int = 1  # the paper's runs per item (voting=k<votes> reproduces them)
    image_max_pixels: int = 448 * 448  # largest image area after resizing
    video_fps: float = 1.0  # frames sampled per second of video
    video_max_pixels: int = 224 * 224  # largest frame area
    audio_rate: int = 16_000  # audio sample rate (Hz, mono)


def benchmark_config(spec: BenchmarkSpec) -> BenchmarkConfig:
    """The config node of one registered benchmark (its protocol, format and data location)."""
    p = spec.protocol
    return BenchmarkConfig(
        name=spec.name,
        modality=spec.modality,
        adapter=spec.adapter,
        judge_format=spec.judge_format,
        path=spec.path,
        media_root=spec.media_root,
        description=spec.description,
        options=dict(spec.options),
        allow_tie=spec.allow_tie,
        tie_rule=spec.tie_rule,
        scale=list(spec.scale) if spec.scale else None,
        decimals=spec.decimals,
        aggregation=spec.aggregation,
        order=p.order,
        temperature=p.temperature,
        top_p=p.top_p,
        votes=p.votes,
        image_max_pixels=p.image_max_pixels,
        video_fps=p.video_fps,
        video_max_pixels=p.video_max_pixels,
        audio_rate=p.audio_rate,
    )


def register() -> None:
    """Store every registered benchmark as Hydra's `benchmark/<name>` (idempotent)."""
    store = ConfigStore.instance()
    for spec in BENCHMARKS.values():
        store.store(group="benchmark", name=spec.name, node=benchmark_config(spec))
