"""`flexjudge.Judge`: load a judge once, then ask it about your own prompts and responses.

    from flexjudge import Judge

    judge = Judge.load("embedded")                       # or a results/ checkpoint, a hub id, a folder
    judge.compare("Which planet is largest?", "Jupiter.", "Mars.")["verdict"]      # "A", "B" or "tie"
    judge.score("Say hi.", "Hello!", scale=(1, 10))["scores"]                       # [mean score]
    judge.rank("Name a prime.", ["4", "7", "9"])["verdict"]                         # ranking, best first
    summary = judge.judge_file("mine.jsonl", "mine.judged.jsonl", format="pair_scores", k=3, temperature=0.6)

Every call goes through the same machinery as the pipeline's evaluations: the judge formats and parser
(only the judge's own final `<answer>` tags count; a vote that does not parse is unscored, never
guessed), answer orders, voting, budget forcing, and the per-vote cache, so an interrupted file run
resumes and a rerun with more votes generates only the new ones. docs/judge.md is the guide.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from statistics import mean
from typing import Any

from omegaconf import DictConfig, OmegaConf

from flexjudge import REPO_ROOT
from flexjudge.apply.inputs import FIELDS, UserFile, read_user_file, row_item
from flexjudge.backbones.inputs import MediaSettings
from flexjudge.backbones.loader import media_taken, processor_kinds
from flexjudge.core.io import DataError, write_json, write_jsonl
from flexjudge.generate.engine import BACKENDS
from flexjudge.judge.runs import sample_votes
from flexjudge.judge.scoring import build_views, failure_stats, judge_items, thinking_stats
from flexjudge.judge.stability import flips
from flexjudge.protocol.formats import BatchRanking, JudgeFormat, PairScores, SingleScore, make_format
from flexjudge.protocol.parsing import parse_answers
from flexjudge.protocol.prompts import generated_with_prefill

log = logging.getLogger(__name__)

#: Judge names that need no path: the embedded default (SmolLM2-135M inside Qwen2.5-VL) and its Omni twin
#: (inside the Qwen2.5-Omni thinker: takes audio), provisioned on first use.
EMBEDDED = {"embedded": "smollm2_vl", "default": "smollm2_vl", "embedded-omni": "smollm2_omni"}
ORDERS = ("random", "original", "reversed", "both")


@dataclass(frozen=True)
class JudgeOptions:
    """How to judge: the format and its scale, votes and their aggregation, answer order, thinking
    budget and sampling. Every field has a command-line flag of the same name (`flexjudge judge --help`)."""

    format: str = "pair_scores"  # score | pair_scores | batch | verdict4 | pair_verdict
    scale: tuple[float, float] | None = None  # score range; None: the format's (score 1-5, others 1-10)
    decimals: int = 0  # decimals a score may have (1.0-5.0 by tenths: 1)
    allow_tie: bool = True  # pair formats: may the two responses tie
    k: int = 1  # votes per item and order
    aggregation: str | None = None  # how votes combine; None: the format's default (docs/judge.md)
    order: str = "random"  # answer order: random (per item) | original | reversed | both (flip rate)
    max_think_tokens: int | None = None  # budget forcing: close the reasoning after this many tokens
    min_think_rounds: int = 0  # budget forcing: send the judge back ("Wait") this many times
    force_answers: bool = False  # answer forcing: hold the answer to the format's tag count (a deviation)
    temperature: float = 0.0  # 0: greedy (one distinct vote); the paper samples at 0.4-0.6
    top_p: float = 1.0
    seed: int = 0  # seeds every vote (vote i of an item draws from its own stream)
    max_new_tokens: int = 512  # cap on generated tokens per vote (reasoning and answer)
    prefill_think: bool = True  # open the answer inside <think> (as the judges were trained)
    reasoning: bool = True  # False: the answer-first prompt, for judges trained to answer at once (needs prefill_think False)

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"order={self.order!r}: choose one of {ORDERS}")
        if self.k < 1:
            raise ValueError(f"k={self.k}: at least one vote")
        if self.k > 1 and self.temperature == 0:
            raise ValueError(
                f"k={self.k} votes at temperature 0 would be the same greedy vote {self.k} times; "
                "set a temperature above 0 (the paper samples at 0.4-0.6)"
            )
        if self.scale is not None and (len(self.scale) != 2 or self.scale[0] >= self.scale[1]):
            raise ValueError(f"scale={self.scale!r}: give (low, high) with low < high")
        if not self.reasoning and self.prefill_think:
            raise ValueError(
                "reasoning=False (answer first) needs prefill_think=False: nothing opens <think>"
            )
        fmt = self.judge_format()
        if self.aggregation is not None and self.aggregation not in fmt.aggregations:
            raise ValueError(
                f"aggregation={self.aggregation!r}: format {self.format} combines votes by {sorted(fmt.aggregations)}"
            )

    def judge_format(self) -> JudgeFormat:
        return make_format(self.format, self.scale, self.decimals, self.allow_tie)

    @property
    def how(self) -> str:
        """The aggregation used (the format's first, its default, unless one is chosen)."""
        return self.aggregation or next(iter(self.judge_format().aggregations))


def backend_options() -> list[str]:
    """The backend configs there are (conf/backend/*.yaml): hf, vllm, openai, simulated, API baselines."""
    from flexjudge.core.app import CONF_DIR

    return sorted(p.stem for p in (CONF_DIR / "backend").glob("*.yaml"))


def backend_conf(name: str, **overrides: Any) -> DictConfig:
    """conf/backend/<name>.yaml (after the configs its `defaults` name) with `overrides` on top (an unknown
    key is an error)."""
    from flexjudge.core.app import CONF_DIR

    if name not in backend_options():
        raise ValueError(f"backend {name!r}: choose one of {backend_options()} (conf/backend/)")
    conf = OmegaConf.load(CONF_DIR / "backend" / f"{name}.yaml")
    bases = [d for d in conf.pop("defaults", []) if d != "_self_"]
    conf = OmegaConf.merge(*[backend_conf(b) for b in bases], conf)
    if conf.name not in BACKENDS:
        raise ValueError(f"conf/backend/{name}.yaml: name {conf.name!r} is none of {sorted(BACKENDS)}")
    unknown = sorted(set(overrides) - set(conf))
    if unknown:
        raise ValueError(f"backend {name}: no option(s) {unknown}; it takes {sorted(conf)}")
    return OmegaConf.merge(conf, {k: v for k, v in overrides.items() if v is not None})


def resolve_judge(spec: str | Path, cache_dir: Path) -> Path:
    """judge.json of `spec`: the embedded default, a judge.json or a folder holding one (a provisioned or
    fine-tuned judge under results/), a transformers checkpoint folder, or a hub id."""
    from flexjudge.backbones.loader import MANIFEST, MODEL_CLASSES, write_manifest
    from flexjudge.backbones.recipes import embedded_default_manifest

    if str(spec) in EMBEDDED:
        return embedded_default_manifest(REPO_ROOT, EMBEDDED[str(spec)])
    path = Path(spec)
    if path.is_file() and path.name == MANIFEST:
        return path
    if (path / MANIFEST).is_file():
        return path / MANIFEST
    if path.is_dir():
        config = path / "config.json"
        if not config.is_file():
            raise FileNotFoundError(
                f"judge {spec}: the folder has neither {MANIFEST} (a flexjudge judge) nor config.json "
                "(a transformers checkpoint)"
            )
        archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        model_class = archs[0] if archs and archs[0] in MODEL_CLASSES else "AutoModelForCausalLM"
        weights, source = str(path.resolve()), "local"
    elif str(spec).count("/") == 1 and not path.exists():
        model_class, weights, source = "AutoModelForCausalLM", str(spec), "hub"
    else:
        raise FileNotFoundError(
            f"judge {spec!r}: not a file or folder here, and not a hub id (org/name); give 'embedded', a "
            f"{MANIFEST}, a results/ judge folder, a checkpoint folder or a hub id"
        )
    from flexjudge.core.io import stable_hash

    out = cache_dir / "judges" / stable_hash("judge", weights, model_class)[:16]
    out.mkdir(parents=True, exist_ok=True)
    return write_manifest(
        out,
        backbone=Path(weights).name,
        variant="external",
        weights=weights,
        model_class=model_class,
        dtype="float32",
        trust_remote_code=False,
        frozen=[],
        processor="image",
        source=source,
    )


@dataclass
class Judge:
    """A judge loaded once (weights on first use) for any number of calls."""

    name: str
    backend: DictConfig
    manifest: Path | None = None  # judge.json (None: simulated and openai backends)
    cache: Path | None = None  # the per-vote cache (SQLite); None: votes are not kept
    progress: bool = True
    _session: Any = field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        judge: str | Path = "embedded",
        *,
        backend: str = "hf",
        cache: str | Path | None = None,
        progress: bool = True,
        **options: Any,
    ) -> Judge:
        """A judge by name: 'embedded' (or 'embedded-omni', which hears audio), a results/ judge folder or judge.json, a checkpoint folder, a hub id,
        or (backend='openai') the model name a server serves. `options` override
        conf/backend/<backend>.yaml (e.g. device='cpu', batch_size=4, base_url=...)."""
        conf = backend_conf(backend, **options)
        manifest = None
        if conf.name in ("hf", "vllm"):
            manifest = resolve_judge(judge, REPO_ROOT / ".cache")
        elif conf.name == "openai" and (judge != "embedded" or not conf.model):
            conf.model = str(judge)  # the served model's name (an API baseline config names its own)
        return cls(str(judge), conf, manifest, Path(cache) if cache else None, progress)

    # -- one item ------------------------------------------------------------------------------------
    def score(self, prompt: str, response: str, **kw: Any) -> dict[str, Any]:
        """One response scored (format `score`; `scale=(low, high)`, default 1-5)."""
        return self._one({"prompt": prompt, "response": response}, "score", kw)

    def compare(self, prompt: str, a: str, b: str, **kw: Any) -> dict[str, Any]:
        """Two responses compared: verdict "A", "B" or "tie" from a score each (format `pair_scores`),
        or `format="verdict4"` / `"pair_verdict"`."""
        return self._one({"prompt": prompt, "responses": [a, b]}, kw.pop("format", "pair_scores"), kw)

    def rank(self, prompt: str, responses: list[str], **kw: Any) -> dict[str, Any]:
        """Two or more responses ranked from a score each (format `batch`): verdict "BAC" = B best."""
        return self._one({"prompt": prompt, "responses": list(responses)}, "batch", kw)

    def _one(self, row: dict[str, Any], fmt: str, kw: dict[str, Any]) -> dict[str, Any]:
        fields_ = {k: kw.pop(k) for k in list(kw) if k in FIELDS}
        options = JudgeOptions(format=fmt, **kw)
        item = row_item({**row, **fields_}, "call", Path.cwd(), fmt, 1)
        rows, _ = self.judge_items([item], options)
        return rows[0]

    # -- many items ----------------------------------------------------------------------------------
    def judge_rows(self, rows: list[dict[str, Any]], options: JudgeOptions | None = None, **kw: Any):
        """Rows in the file schema (docs/judge.md), judged together: (output rows, summary)."""
        options = options or JudgeOptions(**kw)
        items = [row_item(r, f"rows[{i}]", Path.cwd(), options.format, i + 1) for i, r in enumerate(rows)]
        return self.judge_items(items, options)

    def judge_file(
        self,
        path: str | Path,
        out: str | Path | None = None,
        options: JudgeOptions | None = None,
        *,
        on_error: str = "error",
        **kw: Any,
    ) -> dict[str, Any]:
        """Judge every row of a JSONL file; write `out` (default <input>.judged.jsonl) and
        <out>.summary.json; the votes are cached in <out>.votes.sqlite unless the judge has a cache.
        Returns the summary."""
        options = options or JudgeOptions(**kw)
        path = Path(path)
        out = Path(out) if out else path.with_name(path.name.removesuffix(".jsonl") + ".judged.jsonl")
        user = read_user_file(path, options.format, on_error)
        items = user.items
        if "molecule" not in media_taken(self.manifest):  # a row's `smiles` stays in its question text
            items = [replace(i, media=tuple(m for m in i.media if m["type"] != "molecule")) for i in items]
        rows, summary = self.judge_items(
            items, options, cache=self.cache or out.with_name(out.name + ".votes.sqlite")
        )
        summary = {**summary, **_skips(user), "input": str(path), "output": str(out)}
        write_jsonl(out, rows)
        write_json(out.with_name(out.name + ".summary.json"), summary)
        return summary

    def judge_items(
        self, items, options: JudgeOptions, cache: Path | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """JudgeItems judged under `options`: (one output row per item, summary); votes are kept in
        `cache` (default: the judge's own, if any)."""
        started = time.time()
        fmt = options.judge_format()
        for item in items:
            check_gold(fmt, item)
        if self.manifest is not None:
            check_media(items, self.manifest)
        views = build_views(items, options.order, options.seed)
        gens, _, counts = sample_votes(
            self._run_conf(options, cache or self.cache), self._open(), fmt, views, "judge"
        )
        judged = judge_items(
            fmt,
            views,
            gens,
            prefill_think=options.prefill_think,
            failure_policy="count_as_wrong",
            aggregation=options.how,
        )
        by_id = {r["id"]: r for r in judged}
        rows = [output_row(fmt, item, by_id[item.id], options) for item in items]
        summary = {
            "judge": self.name,
            "backend": self.backend.name,
            "options": asdict(options),
            "aggregation": options.how,
            **summarize_rows(fmt, rows, judged),
            "votes_generated": counts.generated,
            "votes_cached": counts.cached,
            "seconds": round(time.time() - started, 1),
        }
        return rows, summary

    def _open(self):
        """The loaded judge session (None for the simulated judge, which needs no model)."""
        if self.backend.name == "simulated":
            return None
        if self._session is None:
            from flexjudge.generate.session import JudgeSession

            self._session = JudgeSession(str(self.manifest or self.name), self.backend)
        return self._session

    def _run_conf(self, o: JudgeOptions, cache: Path | None) -> DictConfig:
        """The evaluation settings `sample_votes` reads, from the options (as an evaluate run would set them)."""
        media = MediaSettings()
        return OmegaConf.create(
            {
                "backend": OmegaConf.to_container(self.backend),
                "voting": {"k": o.k},
                "budget": {
                    "name": "options",
                    "max_think_tokens": o.max_think_tokens,
                    "min_think_rounds": o.min_think_rounds,
                    "continuation": "Wait",
                    "answer_forcing": o.force_answers,
                },
                "max_new_tokens": o.max_new_tokens,
                "benchmark": {
                    "temperature": o.temperature,
                    "top_p": o.top_p,
                    "image_max_pixels": media.image_max_pixels,
                    "video_max_pixels": media.video_max_pixels,
                    "video_fps": media.video_fps,
                },
                "seed": o.seed,
                "prefill_think": o.prefill_think,
                "reasoning": o.reasoning,
                "cache": str(cache) if cache else None,
                "shard": {"index": 0, "count": 1, "wait_s": 0},
                "progress": self.progress,
            }
        )


def export_text_judge(judge: str | Path, out: str | Path) -> dict[str, Any]:
    """Write the judge's LLM as a plain LlamaForCausalLM checkpoint (safetensors, with the judge's tokenizer
    and chat template) into `out`, for text-only servers (`transformers serve`, llama.cpp converters);
    the text logits of the copy are checked against the judge's own. Returns what was checked."""
    import torch

    from flexjudge.backbones.checkpoints import save_checkpoint
    from flexjudge.backbones.loader import load_judge
    from flexjudge.backbones.placement import text_llm
    from flexjudge.backbones.twins import MAX_LOGIT_DIFF, PROBE

    loaded = load_judge(resolve_judge(judge, REPO_ROOT / ".cache"), device="cpu", dtype="float32")
    llama = text_llm(loaded.model)
    # servers that take their defaults from the checkpoint (transformers serve) sample only when it says
    # so; a request's temperature 0 still asks for greedy decoding
    llama.generation_config.do_sample = True
    ids = loaded.tokenizer(PROBE, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        diff = (loaded.model(**ids).logits - llama(**ids).logits).abs().max().item()
    if diff > MAX_LOGIT_DIFF:
        raise RuntimeError(f"the exported LLM's text logits differ from the judge's by {diff:.2e}")
    save_checkpoint(llama, loaded.tokenizer, out)
    return {"out": str(out), "text_logit_max_diff": diff, "judge": str(judge)}


def check_media(items, manifest: Path) -> None:
    """Every row's media must be of a kind the judge takes (its judge.json's `processor`)."""
    from flexjudge.backbones.loader import read_manifest

    processor = str(read_manifest(manifest).get("processor", "image"))
    takes = processor_kinds(processor)
    for item in items:
        kinds = item.media_kinds()
        if kinds - takes:
            hint = " an audio judge, e.g. --judge embedded-omni," if "audio" in kinds else ""
            raise DataError(
                f"{item.source}: the row has {sorted(kinds - takes)} media, but the judge {manifest} takes "
                f"{sorted(takes) or 'text only'} (processor={processor!r}); use{hint or ' a judge that does'}"
                " or leave such rows out"
            )


def check_gold(fmt: JudgeFormat, item) -> None:
    """A row's optional gold must be a value of the format (e.g. A/B/tie for a pair; a ranking for batch)."""
    gold, n = item.gold, len(item.answers)
    if gold is None:
        return
    if isinstance(fmt, SingleScore):
        ok = (
            isinstance(gold, int | float)
            and not isinstance(gold, bool)
            and fmt.scale.low <= gold <= fmt.scale.high
        )
        want = f"a number from {fmt.scale}"
    elif isinstance(fmt, BatchRanking):
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n]
        ok = isinstance(gold, str) and sorted(gold) == sorted(letters)
        want = f"a ranking of {letters}, best first"
    else:
        values = ("A>B", "B>A", "tie_good", "tie_bad") if fmt.name == "verdict4" else ("A", "B", "tie")
        ok = gold in values
        want = f"one of {values}"
    if not ok:
        raise DataError(f"{item.source}: field 'gold' {gold!r} is not {want} (format {fmt.name})")


def vote_scores(fmt: JudgeFormat, vote: dict[str, Any], prefill_think: bool) -> list[float] | None:
    """The scores a parsed vote gave each response, in the file's order (None: no scores, or unparsed)."""
    if vote["failure"] is not None:
        return None
    if isinstance(fmt, SingleScore):
        return [vote["value"]]
    if isinstance(fmt, BatchRanking):
        return list(vote["value"]["scores"])
    if isinstance(fmt, PairScores):  # the verdict came from two scores: read them back in shown order
        parsed = parse_answers(generated_with_prefill(vote["text"], prefill_think), 2, fmt.scale.parse)
        shown = list(parsed.value)
        scores = [0.0, 0.0]
        for position, original in enumerate(vote["order"]):
            scores[original] = shown[position]
        return scores
    return None


def output_row(fmt: JudgeFormat, item, judged: dict[str, Any], o: JudgeOptions) -> dict[str, Any]:
    """One item's result as written to the output JSONL (docs/judge.md describes every field)."""
    votes = []
    for v in judged["votes"]:
        votes.append(
            {
                "vote": v["run"],
                "order_shown": v["order"],  # response indices in the order the judge saw them
                "parsed": v["failure"] is None,
                "failure": v["failure"],
                "value": v["value"],
                "scores": vote_scores(fmt, v, o.prefill_think),
                "think_tokens": v["think_tokens"],
                "n_tokens": v["n_tokens"],
                "finished": v["finished"],
                "forced_close": v["forced_close"],
                "forced_answers": v["forced_answers"],
                "answer_cut": v["answer_cut"],
                "text": v["text"],
            }
        )
    per_response = [s for s in (v["scores"] for v in votes) if s is not None]
    prediction = judged["prediction"]
    verdict = prediction.ranking if hasattr(prediction, "ranking") else prediction
    row = {
        "id": item.id,
        "source": item.source,
        "format": fmt.name,
        "verdict": verdict,  # None: no vote parsed (unscored, never guessed)
        "scores": [mean(col) for col in zip(*per_response, strict=True)] if per_response else None,
        "parsed_votes": sum(v["parsed"] for v in votes),
        "votes": votes,
        "flipped": flips(judged),  # None unless judged in both orders
    }
    if item.gold is not None:
        row["gold"] = item.gold
        row["correct"] = None if isinstance(fmt, SingleScore) else verdict == item.gold
        if isinstance(fmt, SingleScore):
            row["abs_error"] = None if verdict is None else abs(verdict - item.gold)
    return row


def summarize_rows(
    fmt: JudgeFormat, rows: list[dict[str, Any]], judged: list[dict[str, Any]]
) -> dict[str, Any]:
    """Parse rate (per vote, with failures by reason), flip rate, tie rate, mean score, and accuracy when
    the rows carry gold (an unscored item counts as wrong; `accuracy_parsed` leaves it out)."""
    stats = failure_stats(judged)
    verdicts = [r["verdict"] for r in rows if r["verdict"] is not None]
    flips = [r["flipped"] for r in rows if r["flipped"] is not None]
    scores = [s for r in rows for s in (r["scores"] or [])]
    out: dict[str, Any] = {
        "items": len(rows),
        "votes": stats["n_votes"],
        "parse_rate": 1.0 - stats["parse_failure_rate"],
        "parse_failures": stats["parse_failures"],
        "unscored_items": sum(r["verdict"] is None for r in rows),
        "flip_rate": sum(flips) / len(flips) if flips else None,
        "tie_rate": (
            sum(str(v).startswith("tie") for v in verdicts) / len(verdicts)
            if verdicts and fmt.name in ("pair_scores", "pair_verdict", "verdict4")
            else None
        ),
        "mean_score": mean(scores) if scores else None,
        "verdicts": dict(Counter(str(v) for v in verdicts)) if not isinstance(fmt, SingleScore) else None,
        "thinking": thinking_stats(judged),
    }
    gold = [r for r in rows if "gold" in r]
    if gold and not isinstance(fmt, SingleScore):
        out["accuracy"] = sum(bool(r["correct"]) for r in gold) / len(gold)
        scored = [r for r in gold if r["verdict"] is not None]
        out["accuracy_parsed"] = sum(r["correct"] for r in scored) / len(scored) if scored else None
    elif gold:
        errors = [r["abs_error"] for r in gold if r["abs_error"] is not None]
        out["mean_abs_error"] = mean(errors) if errors else None
    return out


def _skips(user: UserFile) -> dict[str, Any]:
    return {"skipped_rows": len(user.skipped), "skipped": user.skipped[:20]}
