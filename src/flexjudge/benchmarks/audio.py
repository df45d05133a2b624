"""Adapters for the speech-quality (MOS) and speaker-similarity benchmarks, in their release formats.

NISQA (`gabrielmittag/NISQA` corpus: NISQA_corpus_file.csv or <DB>/<DB>_file.csv; `filepath_deg`
relative to the corpus root, `mos` the gold, `con` the condition), BVCC (VoiceMOS 2022 main track:
DATA/sets/*_mos_list.txt, `wav,mean` without a header, system = the name before the first "-",
audio in DATA/wav/), SOMOS (training_files/split1/<full|clean>/*_mos_list.txt with the header
`utteranceId,mean`, system = the 3-digit suffix, audio in audios/) and VoxSim (`kaistmm/voxsim_trainer`
data/voxsim_test_list.txt: `wav1,wav2,same_speaker,rater_id,score` without a header, scores 1–6,
wav paths relative to the VoxCeleb1 wav/ root).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flexjudge.benchmarks.base import Adapter, Source, csv_rows, need, number
from flexjudge.core.io import DataError
from flexjudge.data.schemas import JudgeItem

QUALITY_QUESTION = (
    "Listen to the speech recording and rate its overall quality (noise, distortion, coloration, "
    "loudness, naturalness) on a scale from 1.0 (bad) to 5.0 (excellent)."
)
NATURALNESS_QUESTION = (
    "Listen to the synthesized speech and rate how natural it sounds on a scale from 1.0 (very "
    "unnatural) to 5.0 (completely natural)."
)
SIMILARITY_QUESTION = (
    "Listen to the two recordings and rate how similar the two speakers' voices sound on a scale from "
    "1.0 (clearly different people) to 6.0 (the same voice)."
)
AUDIO_ANSWER = ("the recording above",)

# -- NISQA ---------------------------------------------------------------------------------------


def _nisqa_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if source.path.is_file():
        yield from csv_rows(source.path)
        return
    corpus = source.path / "NISQA_corpus_file.csv"
    if corpus.exists():
        yield from csv_rows(corpus)
        return
    for db in options["dbs"]:
        yield from csv_rows(source.path / db / f"{db}_file.csv")


def _nisqa_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem | None:
    db = need(row, "db", str, where)
    if db not in options["dbs"]:
        return None  # training / validation sets in the corpus file
    path = row.get("filepath_deg") or f"{db}/deg/{need(row, 'filename_deg', str, where)}"
    return JudgeItem(
        f"{db}/{Path(path).name}",
        QUALITY_QUESTION,
        AUDIO_ANSWER,
        number(row, "mos", where),
        db,
        system=f"{db}/{need(row, 'con', str, where)}",
        media=(source.media("audio", path, where),),
        source=where,
    )


NISQA = Adapter(
    _nisqa_rows,
    _nisqa_item,
    "NISQA corpus CSV (NISQA_corpus_file.csv or <DB>/<DB>_file.csv): db, con, filename_deg, filepath_deg, mos",
)

# -- BVCC and SOMOS ------------------------------------------------------------------------------


def _mos_list(source: Source, options: dict[str, Any], header: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    path = source.path / options["list"] if source.path.is_dir() else source.path
    yield from csv_rows(path, None if header else ["wav", "mean"])


def _bvcc_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    wav = need(row, "wav", str, where).strip()
    if "-" not in wav:
        raise DataError(f"{where}: BVCC utterance {wav!r} should be <system>-<utterance>.wav")
    return JudgeItem(
        wav,
        NATURALNESS_QUESTION,
        AUDIO_ANSWER,
        number(row, "mean", where),
        system=wav.split("-", 1)[0],
        media=(source.media("audio", f"{options['audio_dir']}/{wav}", where),),
        source=where,
    )


BVCC = Adapter(
    lambda source, options: _mos_list(source, options, header=False),
    _bvcc_item,
    "BVCC DATA/sets/<split>_mos_list.txt: `sys<id>-utt<id>.wav,<mean>` per line, no header; audio in DATA/wav/",
)


def _somos_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    utterance = need(row, "utteranceId", str, where)
    system = Path(utterance).stem.rsplit("_", 1)[-1]
    if not system.isdigit():
        raise DataError(f"{where}: SOMOS utteranceId {utterance!r} should end in _<3-digit system>.wav")
    return JudgeItem(
        utterance,
        NATURALNESS_QUESTION,
        AUDIO_ANSWER,
        number(row, "mean", where),
        system=system,
        media=(source.media("audio", f"{options['audio_dir']}/{utterance}", where),),
        source=where,
    )


SOMOS = Adapter(
    lambda source, options: _mos_list(source, options, header=True),
    _somos_item,
    "SOMOS training_files/split1/<full|clean>/<split>_mos_list.txt: header utteranceId,mean; audio in audios/",
)

# -- VoxSim --------------------------------------------------------------------------------------

VOXSIM_COLUMNS = ["wav1", "wav2", "same_speaker", "rater_id", "score"]


def _voxsim_rows(source: Source, options: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    path = source.path / options["list"] if source.path.is_dir() else source.path
    yield from csv_rows(path, VOXSIM_COLUMNS)


def _voxsim_item(row: dict[str, Any], where: str, source: Source, options: dict[str, Any]) -> JudgeItem:
    wav1, wav2 = need(row, "wav1", str, where), need(row, "wav2", str, where)
    score = number(row, "score", where)
    if not 1 <= score <= 6:
        raise DataError(f"{where}: VoxSim similarity scores run from 1 to 6, got {score}")
    return JudgeItem(
        f"{wav1}|{wav2}",
        SIMILARITY_QUESTION,
        ("the two recordings above",),
        score,
        media=(source.media("audio", wav1, where), source.media("audio", wav2, where)),
        source=where,
    )


VOXSIM = Adapter(
    _voxsim_rows,
    _voxsim_item,
    "VoxSim data/voxsim_test_list.txt: wav1,wav2,same_speaker,rater_id,score (1-6 mean) per line, no header",
)
