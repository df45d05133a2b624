"""Every benchmark adapter reads a fixture written in its official release format and yields the
hand-written gold; bad rows fail naming file:line (or file[index]) and field; missing media fail or
are counted under on_missing=skip; media may not leave the data root; the simulated judge scores the
fixtures perfectly at error rate 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import stage_cfg
from fixtures.benchmarks import FIXTURES, png
from flexjudge.benchmarks.base import MissingMedia, Source, load_benchmark
from flexjudge.benchmarks.registry import ADAPTERS, BENCHMARKS
from flexjudge.core.io import DataError


def _load(name: str, root: Path, **kw):
    spec = BENCHMARKS[name]
    path, media_root, expected = FIXTURES[name](root)
    source = Source(path, media_root, root / "cache", kw.pop("on_missing", "error"))
    return spec, load_benchmark(ADAPTERS[spec.adapter], source, spec.options, **kw), expected


def test_every_registered_benchmark_has_a_fixture():
    assert set(FIXTURES) | {"hh_harmless_heldout", "mj_bench_safety", "mj_bench_quality"} == set(BENCHMARKS)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_adapter_reads_its_official_format(name, tmp_path):
    spec, loaded, expected = _load(name, tmp_path)
    assert len(expected) >= 5
    assert [(i.id, i.gold, i.subset) for i in loaded.items] == expected
    for item in loaded.items:
        parts = [*item.media, *(m for answer in item.answer_media for m in answer)]
        assert all(Path(p["path"]).is_file() or Path(p["path"]).is_dir() for p in parts)
        if spec.modality != "any":  # a mixed benchmark's items each carry their own kinds (its own test)
            assert all(p["type"] == spec.modality for p in parts)
            assert (len(parts) > 0) == (spec.modality not in ("text", "molecule"))
        assert item.source and (":" in item.source or "[" in item.source)
    if spec.judge_format in ("pair_verdict", "pair_scores", "verdict4"):
        assert all(len(i.answers) == 2 for i in loaded.items)


def test_systems_come_from_the_file_names(tmp_path):
    _, bvcc, _ = _load("bvcc", tmp_path / "b")
    assert [i.system for i in bvcc.items] == ["sys64e2f", "sys64e2f", "sys7ab12", "sys7ab12", "sysfe019"]
    _, somos, _ = _load("somos", tmp_path / "s")
    assert [i.system for i in somos.items] == ["015", "015", "001", "001", "000"]
    _, nisqa, _ = _load("nisqa", tmp_path / "n")
    assert nisqa.items[0].system == "NISQA_TEST_FOR/1"


def test_answer_media_move_with_the_answers(tmp_path):
    from flexjudge.judge.scoring import build_views
    from flexjudge.protocol.formats import make_format

    _, loaded, _ = _load("mj_bench_alignment", tmp_path)
    item = loaded.items[0]
    first, second = build_views([item], "both", 0)
    assert first.media == (item.answer_media[0][0], item.answer_media[1][0])
    assert second.media == (item.answer_media[1][0], item.answer_media[0][0])
    content = make_format("pair_verdict").messages(
        item.question, second.answers, second.item.media, answer_media=second.answer_media
    )[1]["content"]
    kinds = [p["type"] for p in content]
    assert kinds == ["text", "image", "text", "image", "text"]  # [Reply A] <image>, [Reply B] <image>
    assert content[1]["path"] == item.answer_media[1][0]["path"] and "[Reply A]" in content[0]["text"]


def test_missing_media_fail_or_are_counted(tmp_path):
    spec = BENCHMARKS["mllm_judge_pair"]
    path, media_root, _ = FIXTURES["mllm_judge_pair"](tmp_path)
    (media_root / "2.jpg").unlink()
    (media_root / "4.jpg").unlink()
    with pytest.raises(MissingMedia, match=r"pair.jsonl:3: image file .*2.jpg does not exist"):
        load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c"), spec.options)
    loaded = load_benchmark(
        ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c", "skip"), spec.options
    )
    assert len(loaded.items) == 4 and loaded.skipped == 2
    assert loaded.skipped_examples == [f"{path}:3", f"{path}:5"]
    assert loaded.report()["skipped_missing_media"] == 2


def test_media_may_not_leave_the_data_root(tmp_path):
    spec = BENCHMARKS["mm_rewardbench"]
    path, media_root, _ = FIXTURES["mm_rewardbench"](tmp_path)
    png(tmp_path / "secret.jpg")
    rows = json.loads(path.read_text())
    rows[1]["Image"] = "../../secret.jpg"
    path.write_text(json.dumps(rows))
    with pytest.raises(
        DataError, match=r"all_data.json\[1\]: image path '../../secret.jpg' leaves the data root"
    ):
        load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c", "skip"), spec.options)


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "mllm_judge_pair",
            lambda r: r.update(human_answer="D"),
            r"pair.jsonl:2: human_answer must be A, B or C",
        ),
        ("mllm_judge_pair", lambda r: r.pop("instruction"), r"pair.jsonl:2: field 'instruction' is missing"),
        (
            "mllm_judge_score",
            lambda r: r.update(human="good"),
            r"score.jsonl:2: field 'human' must be a number",
        ),
        (
            "mllm_judge_batch",
            lambda r: r.update(human_answer="AAB"),
            r"batch.jsonl:2: human_answer 'AAB' must order",
        ),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, name, edit, message):
    spec = BENCHMARKS[name]
    path, media_root, _ = FIXTURES[name](tmp_path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    edit(rows[1])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=message):
        load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c"), spec.options)


def test_csv_and_list_errors_name_the_line(tmp_path):
    spec = BENCHMARKS["bvcc"]
    path, media_root, _ = FIXTURES["bvcc"](tmp_path)
    lines = (path / "sets" / "test_mos_list.txt").read_text().splitlines()
    lines[2] = "sys7ab12-utt00aa11.wav,loud"
    (path / "sets" / "test_mos_list.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"test_mos_list.txt:3: field 'mean' must be a number"):
        load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c"), spec.options)


def test_limit_and_duplicate_ids(tmp_path):
    _, loaded, _ = _load("pandalm", tmp_path / "a", limit=3)
    assert len(loaded.items) == 3
    spec = BENCHMARKS["pandalm"]
    path, media_root, _ = FIXTURES["pandalm"](tmp_path / "b")
    rows = json.loads(path.read_text().replace("NaN", "null"))
    rows[2]["idx"] = 0
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"testset-v1.json\[2\]: item id 'pandalm-0' appears twice"):
        load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c"), spec.options)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_simulated_judge_scores_fixtures_perfectly_at_error_rate_zero(name, tmp_path):
    """Gold labels, adapters, formats and metrics are wired right: a judge that is never wrong is perfect."""
    from flexjudge.evaluate import run

    spec = BENCHMARKS[name]
    path, media_root, _ = FIXTURES[name](tmp_path / "data")
    record = run(
        stage_cfg(
            "evaluate",
            tmp_path,
            f"benchmark={name}",
            f"benchmark.path={path}",
            f"benchmark.media_root={media_root}",
            "backend=simulated",
            "backend.error_rate=0.0",
            "backend.parse_failure_rate=0.0",
            "backend.position_bias=0.0",
            "bootstrap=0",
        )
    )
    metrics = record["metrics"]
    headline = spec.metrics[0]
    perfect = {"normalized_levenshtein": 0.0, "macro_normalized_levenshtein": 0.0}
    expected = perfect.get(headline, 1.0)
    # a score judge answers on its own grid (1.0-5.0 in steps of 0.1): gold 3.625 comes back as 3.6
    tolerance = 1e-3 if spec.judge_format == "score" else 1e-9
    assert metrics[headline] == pytest.approx(expected, abs=tolerance), metrics
    assert metrics["parse_failure_rate"] == 0.0
    assert record["data"]["items"] == metrics["n_items"] >= 5


def test_rows_without_ids_stay_unique_across_parquet_shards(tmp_path):
    import pandas as pd

    spec = BENCHMARKS["mj_bench_alignment"]
    path, media_root, expected = FIXTURES["mj_bench_alignment"](tmp_path)
    single = path / "data" / "alignment-00000-of-00001.parquet"
    frame = pd.read_parquet(single)
    frame.iloc[:2].to_parquet(path / "data" / "alignment-00000-of-00002.parquet")
    frame.iloc[2:].to_parquet(path / "data" / "alignment-00001-of-00002.parquet")
    single.unlink()
    loaded = load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c"), spec.options)
    assert [(i.id, i.gold) for i in loaded.items] == [(i, g) for i, g, _ in expected]


def test_pampa_reads_tdc_tab_files_and_groups_by_molecule(tmp_path):
    spec = BENCHMARKS["pampa"]
    folder, _, expected = FIXTURES["pampa"](tmp_path)
    csv_text = (folder / "molecules.csv").read_text()
    (folder / "pampa_ncats.tab").write_text(csv_text.replace(",", "\t"))
    (folder / "molecules.csv").unlink()
    loaded = load_benchmark(
        ADAPTERS[spec.adapter], Source(folder, folder, tmp_path / "c"), {"molecules": "pampa_ncats.tab"}
    )
    assert [(i.id, i.gold, i.subset) for i in loaded.items] == expected
    assert [i.group for i in loaded.items] == ["101", "101", "102", "102", "103", "103"]
    assert loaded.items[2].question.startswith("Molecule (SMILES): c1ccccc1O\n\nIs the permeability")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda mols, resp: mols.__setitem__(2, "102,c1ccccc1O,2"), r"molecules.csv:3: field 'Y' must be 1"),
        (lambda mols, resp: resp[1].update(Drug_ID="999"), r"responses.jsonl:2: Drug_ID '999' is not in"),
        (lambda mols, resp: resp[1].update(prediction="high"), r"responses.jsonl:2: field 'prediction' must"),
        (lambda mols, resp: resp[1].pop("prediction"), r"responses.jsonl:2: field 'prediction' is missing"),
        (
            lambda mols, resp: mols.__setitem__(3, "101,CCO,1"),
            r"molecules.csv:4: Drug_ID '101' appears twice",
        ),
    ],
)
def test_pampa_bad_rows_name_file_line_and_field(tmp_path, edit, message):
    spec = BENCHMARKS["pampa"]
    folder, _, _ = FIXTURES["pampa"](tmp_path)
    mols = (folder / "molecules.csv").read_text().splitlines()
    resp = [json.loads(line) for line in (folder / "responses.jsonl").read_text().splitlines()]
    edit(mols, resp)
    (folder / "molecules.csv").write_text("\n".join(mols) + "\n")
    (folder / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in resp))
    with pytest.raises(DataError, match=message):
        load_benchmark(ADAPTERS[spec.adapter], Source(folder, folder, tmp_path / "c"), spec.options)


def test_judge_anything_items_carry_each_settings_media(tmp_path):
    """JudgeAnything: the query's media and each response's own, by kind, in the release's order; .mp4 and
    .mp3 paths read as the frame folder and the .wav of the same name; several frames of one response kept."""
    _, loaded, _ = _load("judge_anything", tmp_path)
    kinds = {
        i.id: ([m["type"] for m in i.media], [[m["type"] for m in a] for a in i.answer_media])
        for i in loaded.items
    }
    assert kinds == {
        "q1/gpt_vs_llama": ([], [[], []]),
        "q1/qwen_vs_mistral": ([], [[], []]),
        "q2/gpt_vs_llama": (["image"], [[], []]),
        "q3/llama_vs_gpt": (["audio"], [[], []]),
        "q4/sora_vs_kling": ([], [["video"], ["video"]]),
        "q5/gpt_vs_llama": (["video", "audio"], [[], []]),
        "q6/codi_vs_tempo": (["audio"], [["image"] * 4, ["video"]]),
    }
    q3 = next(i for i in loaded.items if i.id == "q3/llama_vs_gpt")
    assert q3.answers == ("Water falling.", "Rain.")  # model_pair order: llama first, as A
    assert q3.media[0]["path"].endswith("q3.wav")
    q4 = next(i for i in loaded.items if i.id == "q4/sora_vs_kling")
    assert Path(q4.answer_media[0][0]["path"]).is_dir() and q4.answer_media[0][0]["fps"] == 1.0


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "Preference/Human_Pairing.json",
            lambda rows: rows[0].update(choice="3"),
            r"Human_Pairing.json\[0\]: choice '3'",
        ),
        (
            "Preference/Human_Pairing.json",
            lambda rows: rows[0].update(model_pair="gpt-llama"),
            r"\[0\]: model_pair",
        ),
        (
            "Preference/Human_Pairing.json",
            lambda rows: rows[0].update(model_pair="gpt_vs_bard"),
            r"\[0\]: no response of model 'bard'",
        ),
        (
            "X2XRawBenchmark/TaskAnything.json",
            lambda rows: rows[1].update(task_name="Image2Smell"),
            r"TaskAnything.json\[1\]: task_name 'Image2Smell'",
        ),
        (
            "X2XRawBenchmark/TaskAnything.json",
            lambda rows: rows[1].pop("image_path"),
            r"TaskAnything.json\[1\]: a Image2Text query needs",
        ),
        (
            "ResponseCollection/JudgeAnything.json",
            lambda rows: rows[0]["response"].update(type="smell"),
            r"JudgeAnything.json\[0\]: response.type 'smell'",
        ),
    ],
)
def test_judge_anything_bad_rows_name_the_file_and_index(tmp_path, file, change, message):
    spec = BENCHMARKS["judge_anything"]
    path, media_root, _ = FIXTURES["judge_anything"](tmp_path)
    rows = json.loads((path / file).read_text())
    change(rows)
    (path / file).write_text(json.dumps(rows))
    with pytest.raises(DataError, match=message):
        load_benchmark(ADAPTERS[spec.adapter], Source(path, media_root, tmp_path / "c"), spec.options)
