"""Small fixtures of every benchmark, written in its official release format (field names, label
encodings, file layout as published), with the gold each row must produce written out by hand.

`FIXTURES[name](root)` writes the files under root and returns (path, media_root, expected), where
expected is a list of (item id, gold, subset) in file order.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import wavfile


def png(path: Path, colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (32, 24)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="PNG")
    return out.getvalue()


def wav(path: Path, seconds: float = 0.3, rate: int = 16000, freq: float = 220.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    wavfile.write(path, rate, (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16))
    return path


def frames(folder: Path, n: int = 4) -> Path:
    for i in range(n):
        png(folder / f"{i:03d}.png", (40 * i, 80, 120), (28, 28))
    return folder


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def parquet(path: Path, rows: list[dict]) -> Path:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


SUBSETS = ["coco", "mathvista", "WIT", "coco", "diffusiondb", "ChartQA"]


def mllm_pair(root: Path):
    images = root / "Dataset" / "image"
    labels = ["A", "B", "C", "A", "B", "C"]
    rows = []
    for i, (label, subset) in enumerate(zip(labels, SUBSETS, strict=True)):
        png(images / f"{i}.jpg")
        rows.append(
            {
                "id": i,
                "pair_id": 10 + i,
                "image_path": f"{i}.jpg",
                "original_dataset": subset,
                "instruction": f"Please analyse this figure in detail. Question {i}?",
                "answer1": {"name": "gpt4", "answer": f"first answer {i}"},
                "answer2": {"name": "llava", "answer": f"second answer {i}"},
                "human_answer": label,
            }
        )
    path = jsonl(root / "Dataset" / "Benchmark" / "pair.jsonl", rows)
    gold = {"A": "A", "B": "B", "C": "tie"}
    return (
        path,
        images,
        [
            (f"pair-{10 + i}", gold[label], s)
            for i, (label, s) in enumerate(zip(labels, SUBSETS, strict=True))
        ],
    )


def mllm_score(root: Path):
    images = root / "Dataset" / "image"
    humans = [3, "4", 1, 5, "2", 4]  # the release mixes ints and strings
    subsets = ["coco", "coco", "WIT", "WIT", "mathvista", "mathvista"]  # Pearson per subset needs two scores
    rows = []
    for i, (human, subset) in enumerate(zip(humans, subsets, strict=True)):
        png(images / f"{100 + i}.jpg")
        rows.append(
            {
                "score_id": i,
                "id": 100 + i,
                "name": "llava",
                "answer": f"answer {i}",
                "instruction": f"What is shown? ({i})",
                "image_path": f"{100 + i}.jpg",
                "original_dataset": subset,
                "human": human,
            }
        )
    path = jsonl(root / "Dataset" / "Benchmark" / "score.jsonl", rows)
    return (
        path,
        images,
        [(f"score-{i}", float(h), s) for i, (h, s) in enumerate(zip(humans, subsets, strict=True))],
    )


def mllm_batch(root: Path):
    images = root / "Dataset" / "image"
    rankings = ["CDAB", "CAB", "ABCD", "BA", "DCBA", "BCA"]
    rows = []
    for i, (ranking, subset) in enumerate(zip(rankings, SUBSETS, strict=True)):
        png(images / f"{200 + i}.jpg")
        rows.append(
            {
                "id": 1700 + i,
                "instruction": f"Describe the image ({i}).",
                "image_path": f"image/{200 + i}.jpg",
                "original_dataset": subset,
                "answers": [
                    {"name": f"m{j}", "answer": f"answer {j} of item {i}"} for j in range(len(ranking))
                ],
                "human_answer": ranking,
            }
        )
    path = jsonl(root / "Dataset" / "Benchmark" / "batch.jsonl", rows)
    return (
        path,
        images,
        [(f"batch-{1700 + i}", r, s) for i, (r, s) in enumerate(zip(rankings, SUBSETS, strict=True))],
    )


def vl_rewardbench(root: Path):
    ids = [
        "RLAIF-V-14",
        "LRVInstruction-000000007746",
        "mathverse_12",
        "hallucination_pair_3",
        "wildvision-battle_7",
        "mmmu_9",
    ]
    rankings = [[0, 1], [1, 0], [0, 1], [1, 0], [0, 1], [1, 0]]
    rows = [
        {
            "id": ident,
            "query": f"Describe image {i}.",
            "response": [f"response one {i}", f"response two {i}"],
            "image": {"bytes": png_bytes((20 * i, 10, 10)), "path": f"{ident}.png"},
            "human_ranking": ranking,
            "models": ["m1", "m2"],
            "judge": "human",
            "rationale": None,
            "query_source": "COCO",
        }
        for i, (ident, ranking) in enumerate(zip(ids, rankings, strict=True))
    ]
    path = parquet(root / "VL-RewardBench" / "data" / "test-00000-of-00001.parquet", rows)
    categories = ["hallucination", "general", "reasoning", "hallucination", "general", "reasoning"]
    gold = ["A", "B", "A", "B", "A", "B"]
    return path, root / "VL-RewardBench", list(zip(ids, gold, categories, strict=True))


def mj_bench(root: Path):
    labels = [0, 1, 1, 0, 0]
    rows = [
        {
            "caption": f"a red cube on a table ({i})",
            "image0": {"bytes": png_bytes((200, 0, 10 * i)), "path": None},
            "image1": {"bytes": png_bytes((0, 200, 10 * i)), "path": None},
            "label": label,
            "info": "",
        }
        for i, label in enumerate(labels)
    ]
    parquet(root / "MJ-Bench" / "data" / "alignment-00000-of-00001.parquet", rows)
    return (
        root / "MJ-Bench",
        root / "MJ-Bench",
        [(f"alignment-{i}", "A" if label == 0 else "B", "alignment") for i, label in enumerate(labels)],
    )


VOTES = ["leftvote", "rightvote", "tievote", "bothbad_vote", "leftvote"]
VERDICTS = ["A>B", "B>A", "tie_good", "tie_bad", "A>B"]


def genai_image_generation(root: Path):
    rows = [
        {
            "prompt": f"a cat wearing a hat ({i})",
            "left_model": "sdxl",
            "left_image": {"bytes": png_bytes((10, 10, 30 * i)), "path": "l.png"},
            "right_model": "dalle",
            "right_image": {"bytes": png_bytes((30 * i, 10, 10)), "path": "r.png"},
            "vote_type": vote,
        }
        for i, vote in enumerate(VOTES)
    ]
    parquet(root / "GenAI-Bench" / "image_generation" / "test_v1-00000-of-00001.parquet", rows)
    return (
        root / "GenAI-Bench",
        root / "GenAI-Bench",
        [(f"image_generation-{i}", v, "image_generation") for i, v in enumerate(VERDICTS)],
    )


def genai_image_edition(root: Path):
    rows = [
        {
            "source_prompt": "a dog on grass",
            "target_prompt": f"a dog on snow ({i})",
            "instruct_prompt": "make it winter",
            "source_image": {"bytes": png_bytes((0, 120, 0)), "path": "s.png"},
            "left_model": "pix2pix",
            "left_output_image": {"bytes": png_bytes((200, 200, 20 * i)), "path": "l.png"},
            "right_model": "magicbrush",
            "right_output_image": {"bytes": png_bytes((20 * i, 200, 200)), "path": "r.png"},
            "vote_type": vote,
        }
        for i, vote in enumerate(VOTES)
    ]
    parquet(root / "GenAI-Bench" / "image_edition" / "test_v1-00000-of-00001.parquet", rows)
    return (
        root / "GenAI-Bench",
        root / "GenAI-Bench",
        [(f"image_edition-{i}", v, "image_edition") for i, v in enumerate(VERDICTS)],
    )


def genai_video_generation(root: Path):
    videos = root / "GenAI-Bench" / "videos"
    rows = []
    for i, vote in enumerate(VOTES):
        frames(videos / f"left_{i}")
        frames(videos / f"right_{i}", 3)
        rows.append(
            {
                "prompt": f"a boat sailing ({i})",
                "left_model": "t2v-a",
                "left_video": f"https://example.org/v/left_{i}",
                "right_model": "t2v-b",
                "right_video": f"right_{i}",
                "vote_type": vote,
            }
        )
    parquet(root / "GenAI-Bench" / "video_generation" / "test_v1-00000-of-00001.parquet", rows)
    return (
        root / "GenAI-Bench",
        videos,
        [(f"video_generation-{i}", v, "video_generation") for i, v in enumerate(VERDICTS)],
    )


def mm_rewardbench(root: Path):
    data = root / "multimodal_rewardbench" / "data"
    spec = [
        ("nocaps_13062", "open_generation/correctness_task", "Output1", "open_generation/correctness_task"),
        ("visitbench_235", "open_generation/preference_task", "Output2", "open_generation/preference_task"),
        ("pairs_4", "safety", "Output1", "safety/bias"),
        ("hateful_9", "safety", "Output2", "safety/toxicity"),
        ("mathvista_77", "reasoning", "Output2", "reasoning/math"),
        ("EMMA-Coding_5", "reasoning", "Output1", "reasoning/coding"),
    ]
    rows = []
    for i, (ident, category, better, _) in enumerate(spec):
        png(data / "images" / "src" / f"{i}.jpg")
        rows.append(
            {
                "ID": ident,
                "Text": f"question {i}",
                "Image": f"images/src/{i}.jpg",
                "Output1": "one",
                "Output2": "two",
                "Better": better,
                "Category": category,
            }
        )
    (data / "all_data.json").write_text(json.dumps(rows))
    return data / "all_data.json", data, [(i, "A" if b == "Output1" else "B", sub) for i, _, b, sub in spec]


def nisqa(root: Path):
    corpus = root / "NISQA_Corpus"
    header = "db,con,file,con_description,filename_deg,filename_ref,source,lang,votes,mos,noi,col,dis,loud,filepath_deg,filepath_ref"
    spec = [
        ("NISQA_TEST_FOR", 1, "c01_a.wav", 3.4),
        ("NISQA_TEST_LIVETALK", 2, "lt_b.wav", 2.1),
        ("NISQA_TRAIN_SIM", 3, "tr_c.wav", 4.0),
        ("NISQA_TEST_P501", 4, "p_d.wav", 4.6),
        ("NISQA_TEST_FOR", 1, "c01_e.wav", 1.8),
        ("NISQA_TEST_P501", 5, "p_f.wav", 3.9),
    ]
    lines = [header]
    for i, (db, con, name, mos) in enumerate(spec):
        wav(corpus / db / "deg" / name, freq=200 + 40 * i)
        lines.append(f"{db},{con},{i},cond,{name},,src,en,5,{mos},3,3,3,3,{db}/deg/{name},")
    (corpus / "NISQA_corpus_file.csv").write_text("\n".join(lines) + "\n")
    expected = [(f"{db}/{name}", mos, db) for db, _, name, mos in spec if not db.startswith("NISQA_TRAIN")]
    return corpus, corpus, expected


def bvcc(root: Path):
    data = root / "BVCC" / "DATA"
    spec = [
        ("sys64e2f-utt9c183cd.wav", 3.625),
        ("sys64e2f-utt491a78a.wav", 3.25),
        ("sys7ab12-utt00aa11.wav", 1.5),
        ("sys7ab12-utt00bb22.wav", 2.0),
        ("sysfe019-utt77cc33.wav", 4.5),
    ]
    for i, (name, _) in enumerate(spec):
        wav(data / "wav" / name, freq=300 + 30 * i)
    (data / "sets").mkdir(parents=True)
    (data / "sets" / "test_mos_list.txt").write_text("".join(f"{n},{m}\n" for n, m in spec))
    return data, data, [(n, m, "") for n, m in spec]


def somos(root: Path):
    base = root / "somos"
    spec = [
        ("novel_2007_0098_015.wav", 3.6),
        ("news_2010_0012_015.wav", 3.2),
        ("booksent_2012_0005_001.wav", 2.4),
        ("novel_2007_0100_001.wav", 2.9),
        ("news_2011_0007_000.wav", 4.4),
    ]
    for i, (name, _) in enumerate(spec):
        wav(base / "audios" / name, freq=250 + 20 * i)
    lists = base / "training_files" / "split1" / "clean"
    lists.mkdir(parents=True)
    (lists / "test_mos_list.txt").write_text("utteranceId,mean\n" + "".join(f"{n},{m}\n" for n, m in spec))
    return base, base, [(n, m, "") for n, m in spec]


def voxsim(root: Path):
    wavs = root / "voxceleb1" / "wav"
    spec = [
        ("id10889/DxZaPGUIX50/00017.wav", "id10889/DxZaPGUIX50/00025.wav", 1, 5.5),
        ("id10102/Vod1r77aj8E/00018.wav", "id10300/abcdEFGhij0/00001.wav", 0, 1.5),
        ("id10270/x6uYqmx31kE/00001.wav", "id10270/8jEAjG6SegY/00008.wav", 1, 4.0),
        ("id10300/abcdEFGhij0/00001.wav", "id10889/DxZaPGUIX50/00017.wav", 0, 2.0),
        ("id10102/Vod1r77aj8E/00018.wav", "id10102/Vod1r77aj8E/00021.wav", 1, 6.0),
    ]
    for a, b, _, _ in spec:
        for name in (a, b):
            if not (wavs / name).exists():
                wav(wavs / name)
    lists = root / "voxsim" / "data"
    lists.mkdir(parents=True)
    (lists / "voxsim_test_list.txt").write_text("".join(f"{a},{b},{s},,{m}\n" for a, b, s, m in spec))
    return root / "voxsim", wavs, [(f"{a}|{b}", m, "") for a, b, _, m in spec]


def judgelm_val(root: Path):
    folder = root / "JudgeLM-100K"
    questions, judgements, expected = [], [], []
    spec = [
        (0, [8, 3], None, "A"),
        (1, None, "2 8\nAssistant 1 is vague.", "B"),
        (2, [6, 6], None, "tie"),
        (3, [-1, -1], None, None),
        (4, [7, 9], None, "B"),
        (5, None, "9 4\nAssistant 2 is wrong.", "A"),
    ]
    for qid, score, text, gold in spec:
        questions.append(
            {
                "question_id": qid,
                "score": [{}, {}],
                "question_body": f"question {qid}?",
                "answer1_body": "one",
                "answer2_body": "two",
                "answer1_model_id": "vicuna",
                "answer2_model_id": "alpaca",
                "answer1_metadata": {"decoding_method": "top_p_sampling"},
                "answer2_metadata": {"decoding_method": "greedy"},
            }
        )
        judgement = {
            "review_id": f"r{qid}",
            "question_id": qid,
            "answer1_id": "",
            "answer2_id": "",
            "reviewer_id": "gpt-4-0613",
            "metadata": {},
            "text": text or f"{score[0]} {score[1]}\nexplanation",
        }
        if score is not None:
            judgement["score"] = score
        judgements.append(judgement)
        if gold is not None:  # -1 -1 marks a failed GPT-4 judgement: left out
            expected.append((f"judgelm-{qid}", gold, ""))
    jsonl(folder / "judgelm_val_5k.jsonl", questions)
    jsonl(folder / "judgelm_val_5k_gpt4.jsonl", judgements)
    return folder, folder, expected


def pandalm(root: Path):
    data = root / "PandaLM" / "data"
    data.mkdir(parents=True)
    spec = [
        ((1, 1, 1), "A"),
        ((2, 2, 0), "B"),
        ((0, 0, 1), "tie"),
        ((1, 2, 0), "A"),
        ((2, 1, 1), "A"),
        ((2, 0, 2), "B"),
    ]
    body = []
    for i, (votes, _) in enumerate(spec):
        extra = "NaN" if i % 2 else json.dumps(f"extra input {i}")
        body.append(
            f'{{"idx": {i}, "motivation_app": "Grammarly", "cmp_key": "bloom-7b_llama-7b", "instruction": "Rewrite {i}.", '
            f'"input": {extra}, "response1": "r1", "response2": "r2", "annotator1": {votes[0]}, '
            f'"annotator2": {votes[1]}, "annotator3": {votes[2]}}}'
        )
    (data / "testset-v1.json").write_text("[\n" + ",\n".join(body) + "\n]\n")  # bare NaN, as released
    return data / "testset-v1.json", data, [(f"pandalm-{i}", g, "Grammarly") for i, (_, g) in enumerate(spec)]


def pampa(root: Path):
    """TDC PAMPA_NCATS molecules + a policy's responses; gold 10.0 when `prediction` equals Y."""
    folder = root / "pampa"
    folder.mkdir(parents=True)
    (folder / "molecules.csv").write_text(
        "Drug_ID,Drug,Y\n101,CCO,1\n102,c1ccccc1O,0\n103,CC(=O)Nc1ccc(O)cc1,1\n"
    )
    prompt = "Is the permeability of this molecule high or low-to-moderate?"
    responses = [
        ("101", "Small and polar enough: high.", 1, None),
        ("101", "Too polar: low-to-moderate.", 0, None),
        ("102", "I cannot tell.", None, None),
        ("102", "Phenol is small but ...: low-to-moderate.", 0, None),
        ("103", "Amide and phenol: low-to-moderate.", 0, "s0"),
        ("103", "Passes the membrane: high.", 1, "s1"),
    ]
    jsonl(
        folder / "responses.jsonl",
        [
            {"Drug_ID": d, "prompt": prompt, "response": r, "prediction": p}
            | ({"response_id": rid} if rid else {})
            for d, r, p, rid in responses
        ],
    )
    expected = [
        ("pampa-101-0", 10.0, ""),
        ("pampa-101-1", 1.0, ""),
        ("pampa-102-0", 1.0, ""),  # no answer counts as wrong
        ("pampa-102-1", 10.0, ""),
        ("pampa-103-s0", 1.0, ""),
        ("pampa-103-s1", 10.0, ""),
    ]
    return folder, folder, expected


FIXTURES = {
    "mllm_judge_pair": mllm_pair,
    "mllm_judge_score": mllm_score,
    "mllm_judge_batch": mllm_batch,
    "vl_rewardbench": vl_rewardbench,
    "mj_bench_alignment": mj_bench,
    "genai_bench_image_generation": genai_image_generation,
    "genai_bench_image_edition": genai_image_edition,
    "genai_bench_video_generation": genai_video_generation,
    "mm_rewardbench": mm_rewardbench,
    "nisqa": nisqa,
    "bvcc": bvcc,
    "somos": somos,
    "voxsim": voxsim,
    "judgelm_val": judgelm_val,
    "pandalm": pandalm,
    "pampa": pampa,
}
