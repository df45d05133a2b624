"""flexjudge: train a multimodal judge from ~1K text-only rationales (FLEX-Judge reimplementation)."""

from pathlib import Path

__version__ = "0.1.0"

#: Repository root when installed in editable mode (conf/, data/ and workflow/ live there).
REPO_ROOT = Path(__file__).resolve().parents[2]


def __getattr__(name: str):
    """`flexjudge.Judge` (docs/judge.md), imported on first use so that `import flexjudge` stays light."""
    if name == "Judge":
        from flexjudge.apply.judge import Judge

        return Judge
    raise AttributeError(f"module 'flexjudge' has no attribute {name!r}")
