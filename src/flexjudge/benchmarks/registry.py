"""One registry of benchmarks with their metadata; conf/benchmark/<name>.yaml must agree (tested)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark: modality, judge format, metrics (the first is the headline), reference key."""

    name: str
    modality: str  # text | image | video | audio | molecule
    judge_format: str  # pair_verdict | ...
    metrics: tuple[str, ...]
    paper_key: str | None  # `benchmark` column of reference/paper_results.csv, if the paper reports it
    description: str


BENCHMARKS: dict[str, BenchmarkSpec] = {
    b.name: b
    for b in (
        BenchmarkSpec(
            name="hh_harmless_heldout",
            modality="text",
            judge_format="pair_verdict",
            metrics=(
                "accuracy",
                "accuracy_parsed",
                "parse_failure_rate",
                "unparsed_item_rate",
                "tie_rate",
                "first_position_rate",
                "n_items",
            ),
            paper_key=None,
            description="held-out hh-rlhf harmless-base pairs (disjoint from the SFT pool): pick the chosen reply",
        ),
    )
}


def get_benchmark(name: str) -> BenchmarkSpec:
    """Look up a benchmark by name, listing the known ones on a miss."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; registered: {sorted(BENCHMARKS)}") from None
