"""The baseline judges' own published formats (protocol.baselines): prompts laid out as published, only
their result markers parsed, every other output a counted failure; a benchmark judged in them through the
same evaluation and metrics (the simulated judge answers in the format)."""

from __future__ import annotations

import pytest

from conftest import stage_cfg
from flexjudge.protocol.baselines import CriticPair, CriticScore, PrometheusScore, baseline_format
from flexjudge.protocol.formats import ScoreScale
from flexjudge.protocol.parsing import ParseFailure


@pytest.mark.parametrize(
    ("text", "value", "failure"),
    [
        ("Response 1 is more detailed and correct. Response 1 is better than Response 2.", "A", None),
        ("The second one names the colour right; response 2 is slightly better.", "B", None),
        ("Both are fine. Two responses are equally good.", "tie", None),
        ("The better response: [2]", "B", None),
        ("Response A is better.", "A", None),
        ("Response 1 is better. On reflection, Response 2 is better.", None, ParseFailure.CONFLICTING),
        ("I prefer the first one.", None, ParseFailure.NO_MARKER),
        ("The better response is about clarity, and it is a close call.", None, ParseFailure.NO_MARKER),
        ("", None, ParseFailure.EMPTY),
    ],
)
def test_llava_critic_pairwise_verdicts(text, value, failure):
    parsed = CriticPair().parse(text)
    assert (parsed.value, parsed.failure) == (value, failure)


def test_llava_critic_without_ties_refuses_an_equal_verdict():
    assert (
        CriticPair(allow_tie=False).parse("Two responses are equally good.").failure
        == ParseFailure.TIE_NOT_ALLOWED
    )


@pytest.mark.parametrize(
    ("text", "value", "failure"),
    [
        ("Accurate and faithful to the image. Final Score: 4", 4.0, None),
        ("final score: 3.5", None, ParseFailure.WRONG_PRECISION),
        ("Final Score: 9", None, ParseFailure.OUT_OF_RANGE),
        ("Final Score: 2\nLater: Final Score: 5", 5.0, None),  # the last one stated closes the evaluation
        ("Score: 4", None, ParseFailure.NO_MARKER),
    ],
)
def test_llava_critic_pointwise_scores(text, value, failure):
    parsed = CriticScore(ScoreScale(1, 5)).parse(text)
    assert (parsed.value, parsed.failure) == (value, failure)


@pytest.mark.parametrize(
    ("text", "value", "failure"),
    [
        ("The response names the shapes but misses the colour. [RESULT] 3", 3.0, None),
        ("Feedback: fully right. [RESULT] 5\n", 5.0, None),
        ("[RESULT] 6", None, ParseFailure.OUT_OF_RANGE),
        ("[RESULT] four", None, ParseFailure.INVALID_VALUE),
        ("So the overall score is 4.", None, ParseFailure.NO_MARKER),
    ],
)
def test_prometheus_result_marker(text, value, failure):
    parsed = PrometheusScore().parse(text)
    assert (parsed.value, parsed.failure) == (value, failure)


def test_prompts_follow_the_published_layouts():
    image = [{"type": "image", "path": "x.png"}]
    system, user = CriticPair().messages("What colour?", ["Red.", "Blue."], media=image)
    assert system["content"] == "You are a helpful assistant." and user["content"][0] == image[0]
    text = user["content"][1]["text"]
    assert "Question: [What colour?]" in text and "The first response: [Red.]" in text
    assert "The second response: [Blue.]" in text and '"Two responses are equally good"' in text
    (only,) = PrometheusScore().messages("Describe the image.", ["Two red circles."], media=image)
    body = only["content"][1]["text"]
    headers = [
        "###Task Description:",
        "###The instruction to evaluate:",
        "###Response to evaluate:",
        "###Reference Answer (Score 5):",
        "###Score Rubrics:",
        "###Feedback:",
    ]
    assert [body.index(h) for h in headers] == sorted(body.index(h) for h in headers)
    assert (
        "[RESULT]" in body
        and all(f"Score {i}:" in body for i in range(1, 6))
        and body.endswith("###Feedback:")
    )
    assert "The LMM response: [It is red.]" in CriticScore().messages("Q?", ["It is red."])[1]["content"]
    for fmt in (CriticPair(), CriticScore(), PrometheusScore()):
        assert not fmt.thinks  # a baseline's own format: its votes do not open inside <think>


def test_each_baseline_judges_only_the_formats_it_has():
    assert isinstance(baseline_format("llava_critic", "pair_scores", None, True), CriticPair)
    assert isinstance(baseline_format("prometheus_vision", "score", ScoreScale(1, 10), True), PrometheusScore)
    with pytest.raises(ValueError, match="no published format for pair_scores"):
        baseline_format("prometheus_vision", "pair_scores", None, True)
    with pytest.raises(ValueError, match="choose from"):
        baseline_format("gpt4v", "score", None, True)


@pytest.mark.parametrize(
    ("baseline", "benchmark", "fmt"),
    [
        ("llava_critic", "mllm_judge_pair", "critic_pair"),
        ("llava_critic", "nisqa", "critic_score"),
        ("prometheus_vision", "mllm_judge_score", "prometheus"),
    ],
)
def test_a_benchmark_judged_in_a_baselines_format(tmp_path, baseline, benchmark, fmt):
    """Through evaluate with the simulated judge answering in the baseline's format: perfect at error 0, the
    format and its deviation recorded in metrics.json."""
    from flexjudge.evaluate import run
    from flexjudge.minis import run as minis

    family = {"mllm_judge_pair": "mllm_judge", "nisqa": "speech", "mllm_judge_score": "mllm_judge"}[benchmark]
    minis(stage_cfg("minis", tmp_path, f"family={family}", f"out_dir={tmp_path / 'minis'}", "n_items=12"))
    record = run(
        stage_cfg(
            "evaluate",
            tmp_path,
            f"benchmark={benchmark}",
            f"paths.benchmarks={tmp_path / 'minis'}",
            f"+backbone.baseline={baseline}",
            "backend=simulated",
            "backend.error_rate=0",
            "backend.parse_failure_rate=0",
            "backend.position_bias=0",
            "bootstrap=0",
        )
    )
    assert record["judge_format"] == fmt and record["metrics"]["parse_failure_rate"] == 0
    assert any(baseline in d for d in record["protocol_deviations"])
    headline = record["metrics"][
        {"mllm_judge_pair": "macro_accuracy", "nisqa": "pearson", "mllm_judge_score": "macro_pearson"}[
            benchmark
        ]
    ]
    assert headline == pytest.approx(1.0, abs=1e-3)
