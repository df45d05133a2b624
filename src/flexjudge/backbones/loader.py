"""Load a judge (backbone or fine-tuned checkpoint) from its manifest; freeze modules by name prefix."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from flexjudge.core.io import DataError, read_json, write_json

log = logging.getLogger(__name__)

#: Model classes a backbone config may name (no arbitrary attribute lookup on transformers).
MODEL_CLASSES = (
    "Qwen2_5_VLForConditionalGeneration",
    "Qwen2_5OmniThinkerForConditionalGeneration",
    "LlamaForCausalLM",
    "Qwen2ForCausalLM",
    "AutoModelForCausalLM",
    "MolLLMForCausalLM",  # ours: flexjudge.backbones.molecular
    "LlavaForConditionalGeneration",  # LLaVA-1.5: Prometheus-Vision (a baseline judge)
    "LlavaOnevisionForConditionalGeneration",  # LLaVA-OneVision: LLaVA-Critic (a baseline judge)
)
#: The LLaVA classes: 1-D positions, an "<image>" placeholder the processor's token count replaces.
LLAVA_CLASSES = ("LlavaForConditionalGeneration", "LlavaOnevisionForConditionalGeneration")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MANIFEST = "judge.json"


@dataclass
class Judge:
    """A loaded judge model with its tokenizer and (when present) image processor and audio feature extractor."""

    model: torch.nn.Module
    tokenizer: Any
    image_processor: Any | None
    manifest: dict[str, Any] = field(default_factory=dict)
    feature_extractor: Any | None = None

    def media_packer(self, settings=None):
        """A `MediaPacker` for this judge's model and processors."""
        from flexjudge.backbones.inputs import MediaPacker

        return MediaPacker(self.model, self.image_processor, self.feature_extractor, settings)

    @property
    def name(self) -> str:
        return f"{self.manifest.get('backbone')}/{self.manifest.get('variant')}"


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def model_class(name: str):
    """The transformers class for a config's `model_class`."""
    if name not in MODEL_CLASSES:
        raise ValueError(
            f"model_class={name!r} is not supported; choose one of {MODEL_CLASSES} (conf/backbone/)"
        )
    if name == "MolLLMForCausalLM":
        from flexjudge.backbones.molecular import MolLLMForCausalLM

        return MolLLMForCausalLM
    import transformers

    return getattr(transformers, name)


def write_manifest(out_dir: str | Path, **fields: Any) -> Path:
    """Write judge.json; a local `weights` path is stored relative to the manifest's folder."""
    out = Path(out_dir)
    weights = fields.get("weights")
    if weights and Path(weights).exists():
        fields["weights"] = (
            str(Path(weights).resolve().relative_to(out.resolve()))
            if Path(weights).resolve().is_relative_to(out.resolve())
            else str(Path(weights).resolve())
        )
    path = out / MANIFEST
    write_json(path, fields)
    return path


def processor_kinds(processor: str) -> set[str]:
    """The media kinds a judge.json `processor` value takes (image+audio → image, video, audio; image_only:
    still images, as the LLaVA classes here)."""
    if processor == "image_only":
        return {"image"}
    takes = {"image", "video"} if "image" in processor else set()
    takes |= {"audio"} if "audio" in processor else set()
    takes |= {"molecule"} if "molecule" in processor else set()
    return takes


def media_taken(manifest: str | Path | None) -> set[str]:
    """The media kinds a judge takes (its judge.json's `processor`; none for a server judge)."""
    if manifest is None:
        return set()
    return processor_kinds(str(read_manifest(manifest).get("processor", "image")))


def takes_molecules(manifest: dict[str, Any], setting: str | bool) -> bool:
    """Whether to give the model <mol> embeddings: `auto` follows its processor (molecule); true demands it."""
    has = "molecule" in processor_kinds(str(manifest.get("processor", "")))
    if setting == "auto":
        return has
    if bool(setting) and not has:
        raise ValueError(
            f"molecule_part=true but {manifest.get('backbone')} takes no molecules (processor="
            f"{manifest.get('processor')!r}); use a molecular backbone or molecule_part=auto"
        )
    return bool(setting)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read judge.json and resolve `weights` to an absolute path when it is a local folder."""
    path = Path(path)
    manifest = read_json(path)
    for key in ("backbone", "variant", "weights", "model_class", "dtype"):
        if key not in manifest:
            raise DataError(f"{path}: manifest lacks {key!r}; rerun the stage that wrote it")
    local = path.parent / manifest["weights"]
    if local.exists():
        manifest["weights"] = str(local.resolve())
    return manifest


def load_tokenizer(manifest: dict[str, Any]):
    """The tokenizer of a judge's weights (e.g. for a backend that loads the model itself)."""
    from transformers import AutoTokenizer

    remote = bool(manifest.get("trust_remote_code", False))
    tokenizer = AutoTokenizer.from_pretrained(manifest["weights"], trust_remote_code=remote)
    if tokenizer.chat_template is None and Path(manifest["weights"]).is_dir():
        # converted LLaVA checkpoints keep their template with the processor (chat_template.jinja/.json)
        folder = Path(manifest["weights"])
        if (folder / "chat_template.jinja").exists():
            tokenizer.chat_template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
        elif (folder / "chat_template.json").exists():
            tokenizer.chat_template = read_json(folder / "chat_template.json")["chat_template"]
    return tokenizer


def load_dtype(manifest_dtype: str, requested: str | None, device: str, where: str = "judge") -> str:
    """The dtype to load in: `requested` (backend.dtype) when given, else the manifest's, except that a
    bf16 default becomes float32 on a CPU without bf16 units (bf16 there runs ~100× slower than fp32).
    An explicit bfloat16 on such a CPU is honoured, with a warning."""
    from flexjudge.core.cpu import cpu_has_bf16

    name = requested or manifest_dtype
    if name not in DTYPES:
        raise ValueError(f"{where}: dtype {name!r}: choose one of {sorted(DTYPES)}")
    if name != "bfloat16" or not device.startswith("cpu") or cpu_has_bf16():
        return name
    if requested:
        log.warning("%s: bfloat16 asked for on a CPU without bf16 units: expect ~1 GFLOP/s", where)
        return name
    log.warning("%s: the checkpoint is bfloat16 but this CPU has no bf16 units: loading float32", where)
    return "float32"


def load_judge(manifest_path: str | Path, *, device: str = "auto", dtype: str | None = None) -> Judge:
    """Load model + tokenizer (+ image processor, + audio feature extractor) named by a manifest, in eval mode."""
    from transformers import AutoImageProcessor

    manifest = read_manifest(manifest_path)
    cls = model_class(manifest["model_class"])
    target = resolve_device(device)
    torch_dtype = DTYPES[load_dtype(manifest["dtype"], dtype, str(target), str(manifest_path))]
    remote = bool(manifest.get("trust_remote_code", False))
    source = manifest["weights"]
    model = cls.from_pretrained(source, dtype=torch_dtype, trust_remote_code=remote)
    model.to(target).eval()
    tokenizer = load_tokenizer(manifest)
    image_processor = None
    if Path(source, "preprocessor_config.json").exists() or not Path(source).exists():
        try:
            image_processor = AutoImageProcessor.from_pretrained(source, trust_remote_code=remote)
        except (OSError, ValueError) as exc:  # text-only checkpoints have none
            log.info("no image processor for %s (%s)", source, exc)
    feature_extractor = None
    if "audio" in str(manifest.get("processor", "")):
        from flexjudge.backbones.inputs import load_feature_extractor

        feature_extractor = load_feature_extractor(source)
        if feature_extractor is None:
            raise DataError(
                f"{manifest_path}: backbone {manifest['backbone']!r} takes audio (processor="
                f"{manifest['processor']!r}) but {source} has no Whisper feature extractor config; "
                "provision it again (checkpoints provisioned before audio support lack it)"
            )
    return Judge(model, tokenizer, image_processor, manifest, feature_extractor)


def freeze(model: torch.nn.Module, prefixes: list[str]) -> list[str]:
    """Set requires_grad=False on parameters under any prefix; a prefix matching nothing is an error."""
    frozen: list[str] = []
    for prefix in prefixes:
        hits = [n for n, _ in model.named_parameters() if n == prefix or n.startswith(prefix + ".")]
        if not hits:
            raise ValueError(f"frozen prefix {prefix!r} matches no parameter of {type(model).__name__}")
        frozen += hits
    names = set(frozen)
    for name, param in model.named_parameters():
        if name in names:
            param.requires_grad_(False)
    return frozen


def state_digest(model: torch.nn.Module, names: list[str]) -> dict[str, str]:
    """sha256 of the raw bytes of the named parameters (to prove frozen weights stayed bit-identical)."""
    import hashlib

    params = dict(model.named_parameters())
    return {
        n: hashlib.sha256(
            params[n].detach().cpu().contiguous().view(torch.uint8).numpy().tobytes()
        ).hexdigest()
        for n in names
    }
