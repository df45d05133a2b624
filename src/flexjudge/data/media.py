"""Reading media files for judging and training: images, videos as frames, 16 kHz mono audio.

Everything here works without torchvision or a video decoder: images and animated GIF/WebP through
PIL, a video given as a folder of frame images (sorted by name, with its frame rate), WAV audio
through scipy. A path inside a dataset is resolved against the dataset's root and may not leave it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from flexjudge.core.io import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
AUDIO_RATE = 16_000


@dataclass
class Media:
    """One media item of a prompt, in prompt order.

    kind: "image" (data: a PIL image), "video" (data: list of PIL frames, `fps` their rate),
    "audio" (data: float32 mono samples at `rate` Hz), "molecule" (data: a `MolGraph`, source its SMILES).
    """

    kind: str
    data: object
    fps: float | None = None
    rate: int | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)


class MissingMedia(DataError):
    """A row names a media file that is not there (benchmarks may skip such rows: on_missing=skip)."""


def resolve_media(root: str | Path, relative: str, where: str, kind: str = "media", hint: str = "") -> Path:
    """`root/relative`, which must stay inside root (no `..` or absolute escapes) and exist
    (else `MissingMedia`, with `hint` appended to the message)."""
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise DataError(f"{where}: {kind} path {relative!r} leaves the data root {base}")
    if not path.exists():
        raise MissingMedia(f"{where}: {kind} file {path} does not exist (data root {base}){hint}")
    return path


def load_image(path: str | Path, where: str = "") -> Media:
    """An RGB image (the first frame of an animated file)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # PIL only warns up to twice its pixel limit: refuse those too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.seek(0)
                rgb = img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(
            f"{where or path}: image {path} is too large to decode safely ({exc}); resize it below "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels"
        ) from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{where or path}: cannot read image {path}: {exc}") from exc
    return Media("image", rgb, source=str(path))


def sample_times(duration: float, fps: float, max_frames: int) -> list[float]:
    """Timestamps (s) sampled at `fps` over `duration`, at most `max_frames` evenly spread, at least one."""
    n = max(1, int(duration * fps + 1e-9))
    if n > max_frames:
        return [duration * i / max_frames for i in range(max_frames)]
    return [i / fps for i in range(n)]


def load_video(
    path: str | Path, fps: float, max_frames: int, where: str = "", source_fps: float | None = None
) -> Media:
    """Frames sampled at `fps` from a folder of frame images or an animated GIF/WebP.

    A folder's frame rate is `source_fps` (from the dataset row or config); a GIF/WebP carries its own
    frame durations.
    """
    from PIL import Image

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{where or path}: video folder {path} holds no frame images {IMAGE_SUFFIXES}")
        if not source_fps:
            raise DataError(f"{where or path}: video folder {path} needs its frame rate (source_fps)")
        starts = [i / source_fps for i in range(len(files))]
        duration = len(files) / source_fps
        frames = [
            load_image(f, where).data for f in _pick(files, starts, sample_times(duration, fps, max_frames))
        ]
    elif path.suffix.lower() in (".gif", ".webp"):
        try:
            with warnings.catch_warnings():  # as load_image: refuse decompression bombs
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    all_frames, starts, t = [], [], 0.0
                    for i in range(getattr(img, "n_frames", 1)):
                        img.seek(i)
                        starts.append(t)
                        t += (img.info.get("duration") or 100) / 1000.0
                        all_frames.append(img.convert("RGB"))
        except (OSError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise DataError(f"{where or path}: cannot read video {path}: {exc}") from exc
        frames = _pick(all_frames, starts, sample_times(t, fps, max_frames))
    else:
        raise DataError(
            f"{where or path}: video {path} must be a folder of frames or a GIF/WebP; decode other "
            "containers (mp4, ...) into a frame folder first, e.g. `ffmpeg -i in.mp4 -r 2 dir/%05d.png`"
        )
    return Media("video", frames, fps=fps, source=str(path))


def _pick(frames: list, starts: list[float], times: list[float]) -> list:
    """The frame shown at each time (the last frame starting at or before it)."""
    picked, j = [], 0
    for t in times:
        while j + 1 < len(starts) and starts[j + 1] <= t + 1e-9:
            j += 1
        picked.append(frames[j])
    return picked


def load_audio(path: str | Path, rate: int = AUDIO_RATE, where: str = "") -> Media:
    """A WAV file as float32 mono samples in [-1, 1] at `rate` Hz (channels averaged, resampled)."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    try:
        source_rate, samples = wavfile.read(path)
    except (ValueError, OSError) as exc:
        raise DataError(f"{where or path}: cannot read WAV audio {path}: {exc}") from exc
    if samples.dtype.kind == "i":
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    elif samples.dtype.kind == "u":  # 8-bit WAV is unsigned, centred on 128
        samples = (samples.astype(np.float32) - 128.0) / 128.0
    samples = samples.astype(np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise DataError(f"{where or path}: audio {path} has no samples")
    if source_rate != rate:
        ratio = Fraction(rate, source_rate)
        samples = resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)
    return Media("audio", samples, rate=rate, source=str(path), meta={"source_rate": int(source_rate)})


def load_media(spec: dict, root: str | Path, *, video_fps: float, max_frames: int, where: str) -> Media:
    """One media item of a data row: {"kind": image|video|audio, "path": relative to root, "fps": for frame folders}."""
    kind = spec.get("kind")
    if kind not in ("image", "video", "audio") or not isinstance(spec.get("path"), str):
        raise DataError(
            f"{where}: media item {spec!r} needs kind (image, video or audio) and a path relative to {root}"
        )
    path = resolve_media(root, spec["path"], where)
    if kind == "image":
        return load_image(path, where)
    if kind == "video":
        return load_video(path, video_fps, max_frames, where, source_fps=spec.get("fps"))
    return load_audio(path, AUDIO_RATE, where)


def load_part(part: dict, settings, where: str) -> Media:
    """A prompt's media part {"type", "path", optional "fps" of a frame folder} or {"type": "molecule",
    "smiles"}, read with `settings` (a `MediaSettings`: video sampling rate and frame cap, conformer seed)."""
    kind, path = part.get("type"), part.get("path")
    if kind == "molecule":
        from flexjudge.data.molecules import featurize

        smiles = part.get("smiles")
        if not isinstance(smiles, str) or not smiles.strip():
            raise DataError(f"{where}: molecule part {part!r} needs a non-empty SMILES string under 'smiles'")
        graph = featurize(smiles, conformer_seed=settings.conformer_seed, where=where)
        return Media("molecule", graph, source=smiles)
    if kind == "image":
        return load_image(path, where)
    if kind == "video":
        return load_video(path, settings.video_fps, settings.max_frames, where, source_fps=part.get("fps"))
    if kind == "audio":
        return load_audio(path, AUDIO_RATE, where)
    raise DataError(f"{where}: media part {part!r} has no type image, video, audio or molecule")
