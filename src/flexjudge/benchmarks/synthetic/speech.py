"""Mini speech-quality benchmarks: NISQA, BVCC and SOMOS from espeak-ng speech with known degradations, and VoxSim."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
)
DEGRADATIONS = ("noise", "clipping", "bandlimit", "dropouts")
VOICES = ("en+m1", "en+m3", "en+f2", "en+f4")


def espeak(text: str, voice: str, path: Path, speed: int = 160) -> None:
    """Speak `text` with espeak-ng into a WAV file (22.05 kHz mono)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is needed to build the speech mini benchmarks: `sudo apt-get install espeak-ng` "
            "(Debian/Ubuntu) or `conda install -c conda-forge espeak-ng`"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True
    )


def apply_degradation(
    x: np.ndarray, rate: int, kind: str, severity: int, rng: np.random.Generator
) -> np.ndarray:
    """Speech `x` (float in [-1, 1]) degraded by `kind` at severity 0 (clean) .. 3 (worst)."""
    if severity == 0:
        return x
    if kind == "noise":
        snr_db = (20, 10, 0)[severity - 1]
        power = np.mean(x**2) / (10 ** (snr_db / 10))
        return x + rng.normal(0, np.sqrt(power), x.shape)
    if kind == "clipping":
        limit = (0.3, 0.1, 0.03)[severity - 1] * np.abs(x).max()
        return np.clip(x, -limit, limit) / limit * 0.9 * np.abs(x).max()
    if kind == "bandlimit":
        from scipy.signal import butter, sosfilt

        cutoff = (3400, 1500, 600)[severity - 1]
        return sosfilt(butter(6, cutoff, fs=rate, output="sos"), x)
    share = (0.1, 0.25, 0.45)[severity - 1]  # dropouts: zero out 50 ms frames
    frame = rate // 20
    out = x.copy()
    for start in range(0, len(x), frame):
        if rng.random() < share:
            out[start : start + frame] = 0.0
    return out


def mos_of(severity: int) -> float:
    """The gold MOS of a severity, by construction: clean 4.6, then 3.5, 2.4, 1.3."""
    return round(4.6 - 1.1 * severity, 1)


def _speech(
    root: Path, rng: np.random.Generator, n: int
) -> list[tuple[Path, str, int, float, np.ndarray, int]]:
    """n degraded utterances: (clean source, degradation, severity, MOS, samples, rate)."""
    from scipy.io import wavfile

    cache = root / ".speech"
    out = []
    for i in range(n):
        text, voice = SENTENCES[i % len(SENTENCES)], VOICES[i % len(VOICES)]
        clean = cache / f"{i:03d}.wav"
        if not clean.exists():
            espeak(text, voice, clean)
        rate, samples = wavfile.read(clean)
        x = samples.astype(np.float32) / 32768.0
        kind, severity = DEGRADATIONS[i % 4], int(rng.integers(0, 4))
        y = apply_degradation(x, rate, kind, severity, rng)
        out.append((clean, kind, severity, mos_of(severity), y, rate))
    return out


def write_wav(path: Path, x: np.ndarray, rate: int) -> None:
    from scipy.io import wavfile

    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, (np.clip(x, -1, 1) * 32767).astype(np.int16))


def build_speech(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """NISQA corpus CSV, BVCC and SOMOS MOS lists from the same degraded espeak-ng utterances."""
    utterances = _speech(root, rng, n)
    nisqa = root / "NISQA_Corpus"
    header = "db,con,file,con_description,filename_deg,filename_ref,source,lang,votes,mos,noi,col,dis,loud,filepath_deg,filepath_ref"
    lines = [header]
    bvcc, somos = [], ["utteranceId,mean"]
    dbs = ("NISQA_TEST_FOR", "NISQA_TEST_LIVETALK", "NISQA_TEST_P501")
    for i, (_, kind, severity, mos, x, rate) in enumerate(utterances):
        db = dbs[i % 3]
        name = f"mini_{i:03d}.wav"
        write_wav(nisqa / db / "deg" / name, x, rate)
        con = DEGRADATIONS.index(kind) * 4 + severity
        lines.append(
            f"{db},{con},{i},{kind}-{severity},{name},,espeak-ng,en,1,{mos},{mos},{mos},{mos},{mos},{db}/deg/{name},"
        )
        system = f"sys{kind}"
        write_wav(root / "BVCC" / "DATA" / "wav" / f"{system}-utt{i:03d}.wav", x, rate)
        bvcc.append(f"{system}-utt{i:03d}.wav,{mos}")
        somos_name = f"mini_{i:04d}_{DEGRADATIONS.index(kind):03d}.wav"
        write_wav(root / "somos" / "audios" / somos_name, x, rate)
        somos.append(f"{somos_name},{mos}")
    (nisqa / "NISQA_corpus_file.csv").write_text("\n".join(lines) + "\n")
    sets = root / "BVCC" / "DATA" / "sets"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "test_mos_list.txt").write_text("\n".join(bvcc) + "\n")
    lists = root / "somos" / "training_files" / "split1" / "clean"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "test_mos_list.txt").write_text("\n".join(somos) + "\n")
    return {
        "gold": "MOS by severity of one degradation: 0 -> 4.6, 1 -> 3.5, 2 -> 2.4, 3 -> 1.3",
        "degradations": {
            "noise": "white noise at 20 / 10 / 0 dB SNR",
            "clipping": "clipped at 30 / 10 / 3 % of the peak",
            "bandlimit": "6th-order Butterworth low-pass at 3400 / 1500 / 600 Hz",
            "dropouts": "50 ms frames zeroed with probability 0.10 / 0.25 / 0.45",
        },
        "systems": "BVCC sys<degradation>, SOMOS 000-003 = noise, clipping, bandlimit, dropouts",
        "speech": f"espeak-ng voices {list(VOICES)}, Harvard-style sentences",
        "items": {"nisqa": n, "bvcc": n, "somos": n},
    }


def build_voxsim(root: Path, n: int, rng: np.random.Generator, **_: Any) -> dict[str, Any]:
    """VoxSim test list of wav pairs (VoxCeleb-style id/video/utt paths) with similarity 1-6 by construction."""
    wav_root = root / "voxceleb1" / "wav"
    lines = []
    for i in range(n):
        voice_a = VOICES[i % len(VOICES)]
        relation = ("same", "same_gender", "other_gender")[i % 3]
        if relation == "same":
            voice_b, score = voice_a, 6.0
        elif relation == "same_gender":
            voice_b, score = (
                VOICES[(VOICES.index(voice_a) + (1 if VOICES.index(voice_a) % 2 == 0 else -1))],
                3.5,
            )
        else:
            voice_b, score = VOICES[(VOICES.index(voice_a) + 2) % len(VOICES)], 1.5
        paths = []
        for voice, sentence in ((voice_a, i), (voice_b, i + 1)):
            rel = f"id{VOICES.index(voice):05d}/mini{sentence % len(SENTENCES)}/{i:05d}.wav"
            if not (wav_root / rel).exists():
                espeak(SENTENCES[sentence % len(SENTENCES)], voice, wav_root / rel)
            paths.append(rel)
        lines.append(f"{paths[0]},{paths[1]},{int(voice_a == voice_b)},,{score}")
    lists = root / "voxsim" / "data"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "voxsim_test_list.txt").write_text("\n".join(lines) + "\n")
    return {
        "gold": "same espeak voice 6.0, the other voice of the same gender 3.5, a voice of the other gender 1.5",
        "items": {"voxsim": n},
    }
