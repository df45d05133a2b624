"""A small molecular LLM of ours, shaped like Mol-LLaMA: an LLM (a Llama) reading each molecule as
`num_query_tokens` (8) `<mol>` embeddings, written by graph encoders over rdkit features
(flexjudge.data.molecules): a 2-D GIN over atoms and bonds, an optional distance-aware 3-D encoder over the
conformer, a gated blend of the two, a Q-Former whose learned queries attend to each molecule's atoms, and a
projector to the LLM's width; LoRA adapters on the LLM (PEFT, injected in place so the whole model saves
as one safetensors file). `import_judge` moves a fine-tuned judge's LLM into it (the paper's "import judge").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from transformers import (
    AutoConfig,
    GenerationMixin,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
)

from flexjudge.backbones.chat_template import MOLECULE_TOKEN as MOL_TOKEN
from flexjudge.data.molecules import ATOM_DIM, BOND_DIM, GRAPH_KEYS, collate_molecules, featurize


class MolLLMConfig(PretrainedConfig):
    """The LLM's config (`text_config`, a LlamaConfig), the `<mol>` token and the encoders' and LoRA's sizes."""

    model_type = "flexjudge_mol_llm"
    sub_configs = {"text_config": LlamaConfig}

    def __init__(
        self,
        text_config: LlamaConfig | dict | None = None,
        mol_token_id: int | None = None,
        num_query_tokens: int = 8,
        graph_hidden: int = 64,
        gin_layers: int = 2,
        use_3d: bool = True,
        geometry_layers: int = 1,
        rbf: int = 16,
        cutoff: float = 8.0,
        qformer_layers: int = 1,
        qformer_heads: int = 4,
        lora_r: int = 8,
        lora_alpha: int = 32,
        lora_dropout: float = 0.1,
        lora_targets: Sequence[str] = ("q_proj", "v_proj"),
        **kwargs: Any,
    ):
        if isinstance(text_config, dict):
            text_config = LlamaConfig(**text_config)
        self.text_config = text_config if text_config is not None else LlamaConfig()
        self.mol_token_id = mol_token_id
        self.num_query_tokens = num_query_tokens
        self.graph_hidden, self.gin_layers = graph_hidden, gin_layers
        self.use_3d, self.geometry_layers, self.rbf, self.cutoff = use_3d, geometry_layers, rbf, cutoff
        self.qformer_layers, self.qformer_heads = qformer_layers, qformer_heads
        self.lora_r, self.lora_alpha, self.lora_dropout = lora_r, lora_alpha, lora_dropout
        self.lora_targets = list(lora_targets)
        kwargs.setdefault("tie_word_embeddings", bool(self.text_config.tie_word_embeddings))
        super().__init__(**kwargs)


def _segments(counts: torch.Tensor) -> torch.Tensor:
    """Molecule index of every atom (or bond) from per-molecule counts."""
    return torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)


def _offsets(atom_counts: torch.Tensor, bond_counts: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Local edge indices → batch indices (each molecule's atoms start after the previous ones')."""
    start = torch.cumsum(atom_counts, 0) - atom_counts
    return edges + start[_segments(bond_counts)].unsqueeze(-1)


class GIN(nn.Module):
    """Graph isomorphism layers with bond features added to the messages (2-D structure)."""

    def __init__(self, hidden: int, layers: int):
        super().__init__()
        self.atom_in = nn.Linear(ATOM_DIM, hidden)
        self.bond_in = nn.ModuleList(nn.Linear(BOND_DIM, hidden) for _ in range(layers))
        self.mlp = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))
            for _ in range(layers)
        )
        self.eps = nn.Parameter(torch.zeros(layers))

    def forward(self, atoms, bonds, edges):
        h = self.atom_in(atoms)
        for i, (bond, mlp) in enumerate(zip(self.bond_in, self.mlp, strict=True)):
            messages = torch.zeros_like(h)
            if edges.numel():
                messages.index_add_(0, edges[:, 1], torch.relu(h[edges[:, 0]] + bond(bonds)))
            h = h + mlp((1 + self.eps[i]) * h + messages)
        return h


class Geometry(nn.Module):
    """Distance-aware message passing within each molecule: messages weighted by an MLP of radial basis
    features of the interatomic distance, up to `cutoff` Å (3-D shape)."""

    def __init__(self, hidden: int, layers: int, rbf: int, cutoff: float):
        super().__init__()
        self.rbf, self.cutoff, self.width = rbf, cutoff, cutoff / max(rbf - 1, 1)
        self.filters = nn.ModuleList(nn.Sequential(nn.Linear(rbf, hidden), nn.GELU()) for _ in range(layers))
        self.update = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))

    def forward(self, h, coords, atom_counts):
        seg = _segments(atom_counts)
        same = (seg[:, None] == seg[None, :]) & ~torch.eye(len(seg), dtype=torch.bool, device=seg.device)
        dist = torch.cdist(coords, coords)
        near = same & (dist < self.cutoff)
        # computed here, not a buffer: from_pretrained leaves unsaved buffers uninitialised
        centres = torch.linspace(0.0, self.cutoff, self.rbf, device=dist.device, dtype=dist.dtype)
        basis = torch.exp(-(((dist.unsqueeze(-1) - centres) / self.width) ** 2))
        for filt, update in zip(self.filters, self.update, strict=True):
            weights = filt(basis) * near.unsqueeze(-1)  # (N, N, hidden)
            h = h + update(torch.einsum("ijh,jh->ih", weights, h))
        return h


class QFormer(nn.Module):
    """Learned queries attending to one molecule's atom states: `num_query_tokens` vectors per molecule."""

    def __init__(self, hidden: int, queries: int, layers: int, heads: int):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(queries, hidden) * 0.02)
        self.attn = nn.ModuleList(
            nn.MultiheadAttention(hidden, heads, batch_first=True) for _ in range(layers)
        )
        self.ffn = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(hidden), nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden)
            )
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h, atom_counts):
        n_mol, width = len(atom_counts), int(atom_counts.max())
        padded = h.new_zeros(n_mol, width, h.shape[-1])
        pad = torch.ones(n_mol, width, dtype=torch.bool, device=h.device)
        seg = _segments(atom_counts)
        pos = torch.arange(len(seg), device=h.device) - (torch.cumsum(atom_counts, 0) - atom_counts)[seg]
        padded[seg, pos] = h
        pad[seg, pos] = False
        q = self.queries.expand(n_mol, -1, -1)
        for attn, ffn in zip(self.attn, self.ffn, strict=True):
            q = q + attn(q, padded, padded, key_padding_mask=pad, need_weights=False)[0]
            q = q + ffn(q)
        return self.norm(q)


class MolLLMForCausalLM(PreTrainedModel, GenerationMixin):
    """A Llama that reads molecules: each molecule's encoder output replaces its `<mol>` embeddings."""

    config_class = MolLLMConfig
    base_model_prefix = "mol_llm"
    _supports_sdpa = True
    _supports_attention_backend = True

    def __init__(self, config: MolLLMConfig):
        super().__init__(config)
        self.language_model = LlamaForCausalLM(config.text_config)
        hidden = config.graph_hidden
        self.graph_encoder = GIN(hidden, config.gin_layers)
        self.geometry_encoder = (
            Geometry(hidden, config.geometry_layers, config.rbf, config.cutoff) if config.use_3d else None
        )
        self.blend = nn.Linear(2 * hidden, hidden) if config.use_3d else None
        self.qformer = QFormer(hidden, config.num_query_tokens, config.qformer_layers, config.qformer_heads)
        self.projector = nn.Linear(hidden, config.text_config.hidden_size)
        if config.lora_r:
            from peft import LoraConfig, inject_adapter_in_model

            lora = LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=list(config.lora_targets),
            )
            inject_adapter_in_model(lora, self.language_model)
        self.post_init()
        with torch.no_grad():  # post_init re-initialises every Linear: LoRA B back to zero (PEFT's start)
            for name, p in self.language_model.named_parameters():
                if "lora_B" in name:
                    p.zero_()

    def _init_weights(self, module):  # the LLM is loaded; encoders keep torch's defaults, LoRA B stays zero
        return

    def get_input_embeddings(self):
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self):
        return self.language_model.get_output_embeddings()

    def prepare_inputs_for_generation(self, input_ids, past_key_values=None, **kwargs):
        """`generate` support: the molecules go in with the prompt only, not with each decoded token."""
        inputs = super().prepare_inputs_for_generation(input_ids, past_key_values=past_key_values, **kwargs)
        if past_key_values is not None and past_key_values.get_seq_length() > 0:
            for key in GRAPH_KEYS:
                inputs.pop(key, None)
        return inputs

    def molecule_embeddings(
        self, mol_atoms, mol_bonds, mol_edges, mol_coords, mol_atom_counts, mol_bond_counts
    ):
        """(molecules, num_query_tokens, LLM hidden size): what replaces each molecule's `<mol>` tokens."""
        edges = _offsets(mol_atom_counts, mol_bond_counts, mol_edges)
        h = self.graph_encoder(mol_atoms, mol_bonds, edges)
        if self.geometry_encoder is not None:
            g = self.geometry_encoder(h, mol_coords, mol_atom_counts)
            gate = torch.sigmoid(self.blend(torch.cat([h, g], -1)))
            h = gate * h + (1 - gate) * g
        return self.projector(self.qformer(h, mol_atom_counts))

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        logits_to_keep=0,
        mol_atoms=None,
        mol_bonds=None,
        mol_edges=None,
        mol_coords=None,
        mol_atom_counts=None,
        mol_bond_counts=None,
        **kwargs,
    ):
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
            slots = input_ids == self.config.mol_token_id
            n_slots, n_mol = int(slots.sum()), 0 if mol_atom_counts is None else len(mol_atom_counts)
            want = n_mol * self.config.num_query_tokens
            if n_slots != want:
                raise ValueError(
                    f"the input has {n_slots} {MOL_TOKEN} tokens for {n_mol} molecule(s), which need exactly "
                    f"{self.config.num_query_tokens} each ({want}); write one {MOL_TOKEN} placeholder per molecule "
                    "and let the media packer expand it"
                )
            if n_mol:
                mol = self.molecule_embeddings(
                    mol_atoms, mol_bonds, mol_edges, mol_coords, mol_atom_counts, mol_bond_counts
                ).to(inputs_embeds.dtype)
                inputs_embeds = inputs_embeds.masked_scatter(
                    slots.unsqueeze(-1), mol.reshape(-1, mol.shape[-1])
                )
        return self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            labels=labels,
            use_cache=use_cache,
            logits_to_keep=logits_to_keep,
            **kwargs,
        )


# Registered so that AutoConfig (e.g. inside AutoTokenizer) reads a saved molecular checkpoint's config.
AutoConfig.register(MolLLMConfig.model_type, MolLLMConfig, exist_ok=True)


def lora_layers(model: nn.Module) -> list[nn.Module]:
    """The PEFT LoRA layers injected in a model."""
    return [m for m in model.modules() if hasattr(m, "lora_A") and hasattr(m, "enable_adapters")]


@contextlib.contextmanager
def adapters_disabled(model: nn.Module) -> Iterator[None]:
    """Run the model as its base LLM: every LoRA adapter off inside the block, back on after."""
    layers = lora_layers(model)
    for m in layers:
        m.enable_adapters(False)
    try:
        yield
    finally:
        for m in layers:
            m.enable_adapters(True)


def add_molecule_token(tokenizer) -> int:
    """Add `<mol>` and the chat template (and a pad token if there is none) to the tokenizer; returns the
    `<mol>` id."""
    from flexjudge.backbones.configs import add_molecule_tokens

    mol_id = add_molecule_tokens(tokenizer)[MOL_TOKEN]
    if tokenizer.pad_token_id is None:
        tokenizer.add_special_tokens({"pad_token": "[PAD]"})
    return mol_id


@torch.no_grad()
def place_llm_in_mol_llm(
    llm: LlamaForCausalLM,
    tokenizer,
    *,
    graph: dict[str, Any] | None = None,
    attention_bias: bool = False,
    seed: int = 0,
) -> MolLLMForCausalLM:
    """A molecular LLM carrying `llm`'s weights (new token rows = the mean of the old ones); encoders, Q-Former
    and projector random (seeded), LoRA B zero, so its text logits equal the LLM's. attention_bias=True gives
    its attention projections biases, zero here, so that a judge trained in a Qwen2 body (whose q/k/v biases
    training moved) can be imported exactly."""
    mol_id = add_molecule_token(tokenizer)
    settings = {k: v for k, v in llm.config.to_dict().items() if k != "quantization_config"}  # a GGUF's
    text = LlamaConfig(**{**settings, "vocab_size": len(tokenizer), "attention_bias": attention_bias})
    torch.manual_seed(seed)
    model = MolLLMForCausalLM(MolLLMConfig(text_config=text, mol_token_id=mol_id, **(graph or {}))).eval()
    target = model.language_model.state_dict()
    for key, value in target.items():
        if key.endswith("_proj.bias") or key.endswith("_proj.base_layer.bias"):
            value.zero_()
    for key, value in llm.state_dict().items():
        key = _base_key(key, target)
        if value.shape != target[key].shape:  # embeddings / lm_head: grow by the mean row
            grown = value.new_empty(target[key].shape)
            grown[: value.shape[0]] = value
            grown[value.shape[0] :] = value.mean(0, keepdim=True)
            value = grown
        target[key].copy_(value)
    # Untrained encoders: scale the projector so a molecule's embeddings have the RMS of the token embeddings
    # (torch's default init writes ones several times larger, which drown the text around them).
    rms = model.get_input_embeddings().weight.pow(2).mean().sqrt()
    graphs = collate_molecules([featurize("c1ccccc1O"), featurize("CC(=O)Nc1ccc(O)cc1")])
    out_rms = model.molecule_embeddings(**graphs).pow(2).mean().sqrt()
    model.projector.weight.mul_(rms / out_rms)
    model.projector.bias.mul_(rms / out_rms)
    from flexjudge.backbones.placement import generation_config_for

    model.generation_config = generation_config_for(tokenizer)
    return model


def _base_key(key: str, target: dict[str, torch.Tensor]) -> str:
    """Where a plain LLM tensor lives in a LoRA-injected LLM (`q_proj.weight` → `q_proj.base_layer.weight`)."""
    if key in target:
        return key
    head, _, leaf = key.rpartition(".")
    under = f"{head}.base_layer.{leaf}"
    if under not in target:
        raise KeyError(f"{key} has no place in the molecular LLM")
    return under


@torch.no_grad()
def import_judge(judge_model, judge_tokenizer, mol_model: MolLLMForCausalLM, mol_tokenizer) -> dict[str, Any]:
    """Copy a judge's LLM into `mol_model` (the paper's "import judge"): every same-shape LLM tensor except
    LoRA weights; embedding (and untied lm_head) rows by token string for every token both vocabularies
    share, the rows of tokens only the molecular model has (`<mol>`, pad) kept; its LoRA, encoders, Q-Former
    and projector untouched. q/k/v biases are copied when the molecular LLM has attention biases (its o_proj
    bias stays zero) and must be zero otherwise. A judge LLM of another shape is an error."""
    from flexjudge.backbones.placement import llm_state

    source = {k.removeprefix("llm."): v for k, v in llm_state(judge_model).items() if "lora_" not in k}
    target = mol_model.language_model.state_dict()
    vocab = judge_tokenizer.get_vocab()
    shared = [(tid, vocab[tok]) for tok, tid in mol_tokenizer.get_vocab().items() if tok in vocab]
    rows_to = torch.tensor([a for a, _ in shared])
    rows_from = torch.tensor([b for _, b in shared])
    copied, skipped = 0, []
    biased = bool(mol_model.config.text_config.attention_bias)
    for name, value in source.items():
        key = name if name.startswith("lm_head.") else f"model.{name}"
        if key.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")) and not biased:
            if value.any():
                raise ValueError(
                    f"{name}: the judge's LLM has non-zero attention biases and this molecular LLM has none; "
                    "provision the molecular backbone with attention_bias: true (conf/backbone/)"
                )
            skipped.append(name)
            continue
        if key == "lm_head.weight" and mol_model.config.text_config.tie_word_embeddings:
            skipped.append(name)  # tied: the embeddings carry it
            continue
        key = _base_key(key, target)
        into = target[key]
        if key.endswith(("embed_tokens.weight", "lm_head.weight")):
            if into.shape[1] != value.shape[1]:
                raise ValueError(f"{name}: width {value.shape[1]} != the molecular LLM's {into.shape[1]}")
            into[rows_to] = value[rows_from].to(into.dtype)
        elif into.shape != value.shape:
            raise ValueError(f"{name}: shape {tuple(value.shape)} != the molecular LLM's {tuple(into.shape)}")
        else:
            into.copy_(value)
        copied += 1
    return {
        "tensors_copied": copied,
        "tensors_skipped": skipped,
        "rows_copied": len(shared),
        "rows_kept": len(mol_tokenizer) - len(shared),
    }
