"""Media packing: a prompt's token ids with one placeholder per media item → the backbone's model inputs.

A chat template writes one placeholder token per image / video / audio part (e.g.
`<|vision_start|><|image_pad|><|vision_end|>`). `MediaPacker.pack` processes each item with the
backbone's own processors (Qwen2-VL image processor, Whisper feature extractor for Omni audio),
repeats its placeholder once per feature the encoder will emit, and computes the model's 3-D
(M-RoPE) positions with the model's own `get_rope_index`. It works at the token-id level, so any
template that emits the model's placeholder ids works, and it needs neither torchvision nor a video
decoder: video frames go through the image processor and are grouped into temporal patches here, in
the layout of transformers' Qwen2-VL video processor (a still video equals its image, tested).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from flexjudge.core.io import DataError
from flexjudge.data.media import AUDIO_RATE, Media
from flexjudge.data.molecules import GRAPH_KEYS, collate_molecules

#: Label of a position that carries no loss (the prompt, padding, media placeholders); the training
#: collators (flexjudge.training.sft) use the same value.
IGNORE = -100

#: mm_token_type_ids values the Qwen2.5-VL model reads (text 0, image 1, video 2); audio and molecule
#: tokens are ours (never passed to a model as token types).
TEXT, IMAGE, VIDEO, AUDIO, MOLECULE = 0, 1, 2, 3, 4
#: Model-input tensors of media that are concatenated over the examples of a batch, in order.
MEDIA_KEYS = (
    "pixel_values",
    "image_grid_thw",
    "pixel_values_videos",
    "video_grid_thw",
    "second_per_grid_ts",  # Qwen2.5-VL's name for seconds per temporal patch …
    "video_second_per_grid",  # … and Omni's
    "input_features",
    "feature_attention_mask",
    "image_sizes",  # LLaVA-OneVision: each image's (height, width), to unpad its tiles
    *GRAPH_KEYS,  # the molecular LLM's graphs (edges local to each molecule, so they concatenate)
)


@dataclass
class MediaSettings:
    """Sizes and rates of media before the encoders (benchmark protocols set these: docs/benchmarks.md)."""

    image_min_pixels: int = 56 * 56
    image_max_pixels: int = 448 * 448
    video_min_pixels: int = 56 * 56
    video_max_pixels: int = 224 * 224
    video_fps: float = 1.0
    max_frames: int = 32
    conformer_seed: int = 0  # rdkit ETKDG seed of a molecule's 3-D conformer (flexjudge.data.molecules)


@dataclass
class Packed:
    """One example's model inputs: expanded ids (and labels), token types, positions, media tensors."""

    input_ids: list[int]
    labels: list[int] | None
    token_types: list[int]
    positions: torch.Tensor | None  # (3, length) M-RoPE positions; None for a text-only model
    media: dict[str, torch.Tensor] = field(default_factory=dict)

    def truncated(self, max_length: int) -> Packed | None:
        """The first `max_length` tokens, or None when the cut would split a media item's tokens."""
        if len(self.input_ids) <= max_length:
            return self
        if any(t != TEXT for t in self.token_types[max_length:]):
            return None
        return Packed(
            self.input_ids[:max_length],
            self.labels[:max_length] if self.labels is not None else None,
            self.token_types[:max_length],
            self.positions[:, :max_length] if self.positions is not None else None,
            self.media,
        )

    def as_feature(self) -> dict[str, Any]:
        """The dict the collators take (`flexjudge.training.sft`)."""
        out: dict[str, Any] = {"input_ids": self.input_ids, "token_types": self.token_types}
        if self.labels is not None:
            out["labels"] = self.labels
        if self.positions is not None:
            out["mrope_positions"] = self.positions
        out.update(self.media)
        return out


def _token_id(config, *names: str) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return int(value)
    return None


class MediaPacker:
    """Packs prompts with media for one Qwen2.5-VL, Qwen2.5-Omni-thinker or molecular LLM (text-only models:
    ids only)."""

    def __init__(
        self,
        model,
        image_processor=None,
        feature_extractor=None,
        settings: MediaSettings | None = None,
    ):
        self.model = model
        self.image_processor = image_processor
        self.feature_extractor = feature_extractor
        self.settings = settings or MediaSettings()
        cfg = model.config
        self.omni = type(model).__name__.startswith("Qwen2_5Omni")
        self.image_token = _token_id(cfg, "image_token_id", "image_token_index")
        self.video_token = _token_id(cfg, "video_token_id", "video_token_index")
        self.audio_token = _token_id(cfg, "audio_token_id", "audio_token_index")
        self.molecule_token = _token_id(cfg, "mol_token_id")
        self.molecule_slots = int(getattr(cfg, "num_query_tokens", 0) or 0)
        vision = getattr(cfg, "vision_config", None)
        self.merge = int(getattr(vision, "spatial_merge_size", 2)) if vision is not None else 2
        self.temporal_patch = int(getattr(vision, "temporal_patch_size", 2)) if vision is not None else 2
        self.llava = type(model).__name__ in (
            "LlavaForConditionalGeneration",
            "LlavaOnevisionForConditionalGeneration",
        )
        self.mrope = vision is not None and not self.llava  # LLaVA: 1-D positions
        self.llava_processor = self._llava_processor() if self.llava else None
        self.seconds_key = "video_second_per_grid" if self.omni else "second_per_grid_ts"

    def with_settings(self, settings: MediaSettings | None) -> MediaPacker:
        """This packer at other media sizes and rates (None: this one); model and processors are shared."""
        if settings is None or settings == self.settings:
            return self
        other = copy.copy(self)
        other.settings = settings
        return other

    def _llava_processor(self):
        """For LLaVA-OneVision, transformers' own processor, whose count of tokens per image (tiles, unpadding,
        newlines) the prompt's "<image>" is expanded to; LLaVA-1.5 has a fixed count (`_llava_image`)."""
        from transformers import LlavaOnevisionProcessor

        if self.image_processor is None:
            raise DataError("a LLaVA judge needs its image processor to pack images")
        if type(self.model).__name__ != "LlavaOnevisionForConditionalGeneration":
            return None
        cfg = self.model.config
        # only its token-count methods are used: they read these four attributes (its constructor also wants
        # a tokenizer and a video processor, which counting does not need)
        counter = LlavaOnevisionProcessor.__new__(LlavaOnevisionProcessor)
        counter.image_processor = self.image_processor
        counter.num_image_tokens = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2
        counter.vision_aspect_ratio = cfg.vision_aspect_ratio
        counter.vision_feature_select_strategy = cfg.vision_feature_select_strategy
        return counter

    def _llava_image(self, item: Media) -> tuple[dict[str, torch.Tensor], int]:
        """A LLaVA image: its pixel values (and size, for OneVision's tiles) and its number of image tokens."""
        out = self.image_processor(images=[item.data], return_tensors="pt")
        pixels = out["pixel_values"]
        height, width = pixels.shape[-2:]
        cfg = self.model.config
        drop_cls = 1 if cfg.vision_feature_select_strategy == "default" else 0
        if self.llava_processor is None:  # LLaVA-1.5: one feature per patch, plus CLS unless dropped
            n = (
                (height // cfg.vision_config.patch_size) * (width // cfg.vision_config.patch_size)
                + 1
                - drop_cls
            )
            return {"pixel_values": pixels}, n
        orig_width, orig_height = item.data.size
        n = self.llava_processor._get_number_of_features(orig_height, orig_width, height, width) - drop_cls
        return {"pixel_values": pixels, "image_sizes": out["image_sizes"]}, n

    # -- media items → tensors --------------------------------------------------------------

    def _images(
        self, frames: Sequence[Any], min_pixels: int, max_pixels: int
    ) -> tuple[np.ndarray, tuple[int, int]]:
        """Image-processor patches of each frame (rows, C, T, P, P) and the merged grid (h, w)."""
        if self.image_processor is None:
            raise DataError("this backbone has no image processor; it cannot take images or video")
        out = self.image_processor(
            images=list(frames),
            size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
            return_tensors="np",
        )
        grids = out["image_grid_thw"]
        if len({tuple(g) for g in grids.tolist()}) != 1:
            raise DataError("video frames have different sizes; every frame of a video must share one size")
        _, h, w = (int(v) for v in grids[0])
        patch = int(self.image_processor.patch_size)
        pixels = out["pixel_values"].reshape(len(frames), h * w, 3, self.temporal_patch, patch, patch)
        return pixels, (h, w)

    def image(self, item: Media) -> dict[str, torch.Tensor]:
        s = self.settings
        pixels, (h, w) = self._images([item.data], s.image_min_pixels, s.image_max_pixels)
        return {
            "pixel_values": torch.from_numpy(np.ascontiguousarray(pixels[0].reshape(h * w, -1))),
            "image_grid_thw": torch.tensor([[1, h, w]]),
        }

    def video(self, item: Media) -> dict[str, torch.Tensor]:
        """Frames → temporal patches of `temporal_patch_size` frames (the last frame repeated to fill)."""
        s = self.settings
        frames = list(item.data)[: s.max_frames]
        if not frames:
            raise DataError(f"{item.source}: video has no frames")
        frames += [frames[-1]] * (-len(frames) % self.temporal_patch)
        pixels, (h, w) = self._images(frames, s.video_min_pixels, s.video_max_pixels)
        one = pixels[:, :, :, 0]  # (frames, rows, C, P, P): the image processor repeats a still frame over T
        groups = one.reshape(len(frames) // self.temporal_patch, self.temporal_patch, h * w, *one.shape[2:])
        # (groups, rows, C, T, P, P): Qwen2-VL's video patch layout
        patches = np.ascontiguousarray(groups.transpose(0, 2, 3, 1, 4, 5)).reshape(
            groups.shape[0] * h * w, -1
        )
        fps = item.fps or s.video_fps
        return {
            "pixel_values_videos": torch.from_numpy(patches),
            "video_grid_thw": torch.tensor([[groups.shape[0], h, w]]),
            self.seconds_key: torch.tensor([self.temporal_patch / fps], dtype=torch.float32),
        }

    def audio(self, item: Media) -> dict[str, torch.Tensor]:
        """Log-mel features (Whisper extractor, padded to its window) and the valid-frame mask."""
        fe = self.feature_extractor
        if fe is None:
            raise DataError("this backbone has no audio feature extractor; audio needs an Omni backbone")
        if item.rate != AUDIO_RATE or item.rate != fe.sampling_rate:
            raise DataError(f"{item.source}: audio must be {fe.sampling_rate} Hz mono (got {item.rate} Hz)")
        samples = np.asarray(item.data, dtype=np.float32)
        if len(samples) > fe.n_samples:
            raise DataError(
                f"{item.source}: audio is {len(samples) / fe.sampling_rate:.1f} s, longer than the "
                f"encoder's {fe.n_samples / fe.sampling_rate:.0f} s window; cut it first"
            )
        out = fe(
            samples,
            sampling_rate=fe.sampling_rate,
            padding="max_length",
            return_attention_mask=True,
            return_tensors="pt",
        )
        return {"input_features": out["input_features"], "feature_attention_mask": out["attention_mask"]}

    def molecule(self, item: Media) -> dict[str, torch.Tensor]:
        """The molecule's graph tensors (`GRAPH_KEYS`; item.data is a featurised `MolGraph`)."""
        if self.molecule_token is None:
            raise DataError(f"{item.source}: this backbone takes no molecules; use a molecular LLM")
        return collate_molecules([item.data])

    def audio_tokens(self, feature_mask: torch.Tensor) -> int:
        """Audio-encoder outputs for a feature mask (two stride-2 stages, as the Omni audio tower)."""
        frames = int(feature_mask.sum())
        return ((frames - 1) // 2 + 1 - 2) // 2 + 1

    # -- prompt + media → model inputs -----------------------------------------------------

    def pack(
        self,
        input_ids: Sequence[int],
        media: Sequence[Media],
        labels: Sequence[int] | None = None,
        where: str = "",
    ) -> Packed:
        """Expand each placeholder to its media's feature count; media are matched to placeholders in order."""
        kinds = {
            self.image_token: "image",
            self.video_token: "video",
            self.audio_token: "audio",
            self.molecule_token: "molecule",
        }
        kinds.pop(None, None)
        slots = [i for i, t in enumerate(input_ids) if t in kinds]
        if len(slots) != len(media) or any(
            kinds[input_ids[i]] != m.kind for i, m in zip(slots, media, strict=False)
        ):
            want = [kinds[input_ids[i]] for i in slots]
            raise DataError(
                f"{where or 'prompt'}: the prompt has media placeholders {want} but the row gives {[m.kind for m in media]}; "
                "each image/video/audio/molecule part of a message needs one media item, in the same order"
            )
        ids: list[int] = []
        labs: list[int] | None = [] if labels is not None else None
        types: list[int] = []
        tensors: dict[str, list[torch.Tensor]] = {}
        start = 0
        for slot, item in zip(slots, media, strict=True):
            ids += input_ids[start:slot]
            types += [TEXT] * (slot - start)
            if labs is not None:
                labs += list(labels[start:slot])
            if self.llava and item.kind != "image":
                raise DataError(f"{where or 'prompt'}: a LLaVA judge takes images here, not {item.kind}")
            feats, llava_tokens = (
                self._llava_image(item) if self.llava else (getattr(self, item.kind)(item), 0)
            )
            for key, value in feats.items():
                tensors.setdefault(key, []).append(value)
            if self.llava:
                n, kind = llava_tokens, IMAGE
            elif item.kind == "audio":
                n, kind = self.audio_tokens(feats["feature_attention_mask"]), AUDIO
            elif item.kind == "molecule":
                n, kind = self.molecule_slots, MOLECULE
            else:
                grid = feats["image_grid_thw" if item.kind == "image" else "video_grid_thw"][0]
                n, kind = int(grid.prod()) // self.merge**2, IMAGE if item.kind == "image" else VIDEO
            ids += [input_ids[slot]] * n
            types += [kind] * n
            if labs is not None:
                labs += [IGNORE] * n
            start = slot + 1
        ids += input_ids[start:]
        types += [TEXT] * (len(input_ids) - start)
        if labs is not None:
            labs += list(labels[start:])
        merged = {k: torch.cat(v) for k, v in tensors.items()}
        return Packed(ids, labs, types, self.positions(ids, types, merged) if self.mrope else None, merged)

    def positions(self, ids: list[int], types: list[int], media: dict[str, torch.Tensor]) -> torch.Tensor:
        """(3, length) M-RoPE positions from the model's own `get_rope_index` (plain positions for text).

        Always passed explicitly: the Omni thinker's forward falls back to 1-D positions for media
        when it gets no attention mask.
        """
        if not media:
            return torch.arange(len(ids)).expand(3, -1).clone()
        input_ids = torch.tensor([ids])
        if self.omni:
            mask = media.get("feature_attention_mask")
            pos, _ = self.model.get_rope_index(
                input_ids,
                media.get("image_grid_thw"),
                media.get("video_grid_thw"),
                torch.ones_like(input_ids),  # needed by its audio-only branch
                False,
                mask.sum(-1) if mask is not None else None,
                media.get(self.seconds_key),
            )
        else:
            vision_types = torch.tensor([[t if t in (IMAGE, VIDEO) else TEXT for t in types]])
            pos, _ = self.model.model.get_rope_index(
                input_ids,
                vision_types,
                media.get("image_grid_thw"),
                media.get("video_grid_thw"),
                media.get(self.seconds_key),
            )
        return pos[:, 0]


def load_feature_extractor(source: str):
    """The Whisper feature extractor saved with an Omni checkpoint (None when the folder has none)."""
    from transformers import WhisperFeatureExtractor

    try:
        fe = WhisperFeatureExtractor.from_pretrained(source)
    except (OSError, ValueError):
        return None
    return fe if getattr(fe, "feature_extractor_type", "") == "WhisperFeatureExtractor" else None


def media_inputs(features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Media tensors of a batch (`flexjudge.backbones.inputs.MEDIA_KEYS`), concatenated in example order.

    The model consumes them in the order their placeholders appear, which is example order in both
    collators; text-only examples contribute nothing, so mixed batches need no dummy images.
    """
    out = {}
    for key in MEDIA_KEYS:
        parts = [f[key] for f in features if key in f]
        if not parts:
            continue
        if key == "pixel_values" and parts[0].dim() == 5:  # LLaVA-OneVision tiles: pad to the most tiles
            most = max(p.shape[1] for p in parts)
            parts = [torch.nn.functional.pad(p, (0, 0, 0, 0, 0, 0, 0, most - p.shape[1])) for p in parts]
        out[key] = torch.cat(parts)
    return out
