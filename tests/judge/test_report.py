"""The leaderboard's HTML report: built by the leaderboard stage from simulated evaluations of mini
benchmarks (image, video, audio, molecules, a batch ranking, both answer orders), self-contained, escaped,
and loaded by headless Chromium without a console message."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import stage_cfg
from flexjudge.judge import stability as S
from flexjudge.judge.report import PLOTS, _item_html

SUITE = ("genai_bench_video_generation", "nisqa", "pampa", "mllm_judge_batch", "mllm_judge_score")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Simulated evaluations written by the evaluate stage, then the leaderboard stage over them."""
    from flexjudge.evaluate import run as evaluate
    from flexjudge.leaderboard import run as leaderboard
    from flexjudge.minis import run as minis

    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "minis"
    for family in ("vl_rewardbench", "genai_bench", "speech", "molecules", "mllm_judge"):
        minis(stage_cfg("minis", tmp, f"family={family}", f"out_dir={out}", "n_items=4"))

    def judged(name: str, *extra: str) -> None:
        evaluate(
            stage_cfg(
                "evaluate",
                tmp,
                f"benchmark={name}",
                f"paths.benchmarks={out}",
                "backend=simulated",
                "backend.error_rate=0.3",
                "backend.parse_failure_rate=0.2",
                "bootstrap=0",
                *extra,
            )
        )

    for voting in ("k1", "k3"):  # a grid: accuracy against k and against the budget
        for budget in ("none", "think64"):
            judged("vl_rewardbench", f"voting={voting}", f"budget={budget}", "benchmark.order=both")
    for name in SUITE:
        for variant in ("base", "flex"):
            judged(name, f"variant={variant}")
    judged("mllm_judge_batch", "variant=flex", "budget=think64_tags")  # a deviation: its own table
    leaderboard(stage_cfg("leaderboard", tmp))
    return tmp / "leaderboard"


def local_links(page: Path) -> list[str]:
    """Every src and href of a page that is not an in-page anchor."""
    return [
        link
        for link in re.findall(r'(?:src|href)="([^"]+)"', page.read_text(encoding="utf-8"))
        if not link.startswith("#")
    ]


def test_the_report_has_the_tables_plots_and_an_item_page_per_evaluation(report):
    index = report / "index.html"
    html = index.read_text(encoding="utf-8")
    for name in PLOTS:  # every plot beside index.html, shown on it
        assert (report / name).read_bytes()[:4] == b"\x89PNG" and f'src="{name}"' in html
    section = html.split('id="b-vl-rewardbench"')[1].split("<h2")[0]
    assert "Paper (vl_rewardbench):" in section and "FLEX-VL-7B" in section  # the paper beside ours
    assert "consensus accuracy ↑" in section and "flip_rate ↓" in section and "vote_accuracy ↑" in section
    assert 'id="parse"' in html and "Votes that parse" in html
    forced = html.split("Votes answer forcing changed")[1].split("<h2")[0]  # only the forcing run's column
    assert "flex k1/think64_tags" in forced and "k1/none" not in forced and "mllm_judge_batch" in forced
    md = (report / "leaderboard.md").read_text(encoding="utf-8")
    assert (
        "### Votes answer forcing changed" in md and "flex k1/think64_tags" in md.split("### Votes answer")[1]
    )
    pages = sorted((report / "items").glob("*.html"))
    assert len(pages) == 4 + 2 * len(SUITE) + 1
    for page in [index, *pages]:  # self-contained: every link resolves inside the report folder
        for link in local_links(page):
            target = (page.parent / link).resolve()
            assert target.exists() and target.is_relative_to(report.resolve()), (page.name, link)
    video = (report / "items" / "smollm2_vl-base-genai_bench_video_generation-k1-none.html").read_text()
    assert re.search(r'<img src="\.\./media/\w+\.gif"', video)  # frame folders as animated thumbnails
    assert (
        '<audio controls preload="none" src="../media/'
        in (report / "items" / "smollm2_vl-base-nisqa-k1-none.html").read_text()
    )
    assert 'class="mol"' in (report / "items" / "smollm2_vl-base-pampa-k1-none.html").read_text()  # rdkit
    both = (report / "items" / "smollm2_vl-base-vl_rewardbench-k3-none.html").read_text()
    assert "reasoning and answer" in both and ("unparsed:" in both or "parsed" in both)


def test_model_text_is_escaped():
    row = {
        "id": "x<1>",
        "gold": "A",
        "prediction": "A",
        "per_view": ["A", "B"],
        "votes": [
            {
                "view": 0,
                "run": 0,
                "order": [0, 1],
                "shown": "A",
                "value": "A",
                "failure": None,
                "text": "<script>alert(1)</script>",
            },
            {"view": 1, "run": 0, "order": [1, 0], "shown": "A", "value": "B", "failure": None, "text": "&"},
        ],
    }
    html = _item_html(row, None, None)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "x&lt;1&gt;" in html
    assert "flips with the answer order" in html


def test_stability_figures():
    def row(gold, per_view, values):
        votes = [
            {"view": 0, "run": i, "shown": v, "value": v, "failure": None if v else "empty"}
            for i, v in enumerate(values)
        ]
        return {"gold": gold, "prediction": per_view[0], "per_view": per_view, "votes": votes}

    rows = [row("A", ["A", "A"], ["A", "A", "B", None]), row("B", ["A", "B"], ["A", "B", "B", "B"])]
    assert S.vote_accuracy(rows) == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert S.vote_agreement(rows) == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert S.flip_rate(rows) == 0.5 and S.flips(rows[0]) is False and S.flips(rows[1]) is True
    assert S.first_shown_rate(rows) == pytest.approx(3 / 7)  # 7 parsed votes, 3 choose A
    batch = [
        {
            "gold": "BA",
            "per_view": ["BA"],
            "votes": [
                {
                    "shown": {"ranking": "AB", "scores": [5, 5]},
                    "value": {"ranking": "AB", "scores": [5, 5]},
                },  # tied top
                {"shown": {"ranking": "BA", "scores": [3, 7]}, "value": {"ranking": "BA", "scores": [3, 7]}},
            ],
        }
    ]
    assert S.first_shown_rate(batch) == 0.0 and S.vote_accuracy(batch) == 0.5 and S.flips(batch[0]) is None
    scored = [{"gold": 3.0, "per_view": [3.0], "votes": [{"value": 3.0, "shown": 3.0}]}]
    assert S.vote_accuracy(scored) is None and S.vote_agreement(scored) == 1.0
    # the figures metrics.json holds are read from it, not recomputed
    figures = S.stability(
        rows, {"accuracy": 0.5, "consistency_rate": 0.25, "first_position_rate": float("nan")}
    )
    assert figures["accuracy"] == 0.5 and figures["flip_rate"] == 0.75
    assert figures["first_shown_rate"] == pytest.approx(3 / 7)


def chromium() -> str | None:
    return next((b for b in ("chromium", "chromium-browser") if shutil.which(b)), None)


def test_headless_chromium_loads_the_report_without_console_messages(report, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (make system-deps installs it with apt as root)")
    pages = [report / "index.html", *sorted((report / "items").glob("smollm2_vl-base-*-k1-none.html"))]
    for page in pages:
        result = subprocess.run(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--enable-logging=stderr",
                "--v=1",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
        assert not console, (page.name, console)  # the pages run no script: any console line is an error
        assert "</table>" in result.stdout and ("<img" in result.stdout or "<audio" in result.stdout), (
            page.name
        )
        if page.name == "index.html":
            assert all(f'src="{name}"' in result.stdout for name in PLOTS)
