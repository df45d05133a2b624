"""The `flexjudge` command: `flexjudge judge FILE.jsonl` runs a judge over your own rows (docs/judge.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields
from typing import Any

from flexjudge.apply.inputs import RESPONSES
from flexjudge.apply.judge import ORDERS, JudgeOptions, backend_options
from flexjudge.core.io import DataError

EPILOG = """\
input rows (one JSON object per line; docs/judge.md has the full schema):
  {"prompt": "...", "responses": ["...", "..."], "media": ["img.png"], "smiles": "CCO",
   "reference": "...", "rubric": "...", "gold": "A"}

examples:
  flexjudge judge pairs.jsonl                                  # embedded default, score pair -> A/B/tie
  flexjudge judge pairs.jsonl --judge results/finetune/smollm2_vl/flex -k 5 --temperature 0.6 --order both
  flexjudge judge answers.jsonl --format score --scale 1 10 --max-think-tokens 64
  flexjudge judge pairs.jsonl --backend openai --judge my-judge --base-url http://localhost:8000/v1
  flexjudge judge pairs.jsonl --backend simulated               # no model: checks a file end to end

A killed run resumes where it stopped: votes are cached in OUT.votes.sqlite, and a rerun with more
votes (-k) generates only the new ones.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flexjudge", description="Judge your own data with a flexjudge judge."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "judge",
        help="judge the rows of a JSONL file",
        description="Judge every row of a JSONL file: a score, a score pair (A/B/tie), a ranking or a four-way "
        "verdict per row, each vote's reasoning and parse status, and a summary.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="JSONL file of rows to judge")
    p.add_argument(
        "--out", help="output JSONL (default: INPUT.judged.jsonl; the summary goes to OUT.summary.json)"
    )
    g = p.add_argument_group("the judge")
    g.add_argument(
        "--judge",
        default="embedded",
        help="'embedded' (the default small judge; 'embedded-omni' hears audio), a results/ judge folder or judge.json, a checkpoint "
        "folder, a hub id, or the served model's name with --backend openai (default: embedded)",
    )
    g.add_argument(
        "--backend",
        default="hf",
        choices=backend_options(),
        help="hf (default), vllm, openai (any OpenAI-compatible server), simulated, or an API baseline "
        "config (gpt4o, gemini: key from the environment)",
    )
    g.add_argument("--device", help="hf: auto | cpu | cuda (default: auto)")
    g.add_argument("--batch-size", type=int, help="prompts decoded together (hf default 16)")
    g.add_argument("--base-url", help="openai: the server's /v1 URL (default: $OPENAI_BASE_URL)")
    g.add_argument("--api-key-env", help="openai: the environment variable holding the API key")
    g.add_argument("--concurrency", type=int, help="openai: requests in flight at once")
    g.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other key of conf/backend/<backend>.yaml (repeatable)",
    )
    g.add_argument("--cache", help="the per-vote cache file (default: OUT.votes.sqlite)")
    f = p.add_argument_group("what to ask")
    f.add_argument(
        "--format",
        default="pair_scores",
        choices=sorted(RESPONSES),
        help="score: one response; pair_scores (default), pair_verdict, verdict4: two; batch: two or more",
    )
    f.add_argument(
        "--scale",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="score range (default 1 5 for score, 1 10 otherwise)",
    )
    f.add_argument("--decimals", type=int, default=0, help="decimals a score may have (default 0)")
    f.add_argument("--no-tie", action="store_true", help="pair formats: the two responses may not tie")
    v = p.add_argument_group("votes, order and thinking")
    v.add_argument("-k", "--votes", dest="k", type=int, default=1, help="votes per row and order (default 1)")
    v.add_argument("--aggregation", help="how votes combine (default: the format's; see docs/judge.md)")
    v.add_argument(
        "--order",
        default="random",
        choices=ORDERS,
        help="answer order; both: judge each row in both orders and report the flip rate",
    )
    v.add_argument("--max-think-tokens", type=int, help="budget forcing: close the reasoning after N tokens")
    v.add_argument(
        "--min-think-rounds",
        type=int,
        default=0,
        help="budget forcing: make the judge go on thinking R times ('Wait')",
    )
    v.add_argument(
        "--force-answers",
        action="store_true",
        help="answer forcing: hold each answer to the format's tag count (for small judges that miscount; "
        "a deviation from the paper, counted per vote: docs/judge.md)",
    )
    v.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); k > 1 needs > 0")
    v.add_argument("--top-p", type=float, default=1.0)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--max-new-tokens", type=int, default=512, help="cap on tokens per vote (default 512)")
    v.add_argument("--no-prefill-think", action="store_true", help="do not open the answer inside <think>")
    v.add_argument(
        "--answer-first",
        action="store_true",
        help="ask for the answer alone, no reasoning (a judge trained answer-first); implies --no-prefill-think",
    )
    o = p.add_argument_group("input errors and output")
    o.add_argument(
        "--on-error",
        default="error",
        choices=["error", "skip"],
        help="a bad row stops the run naming file:line and field (error, default) or is skipped and counted",
    )
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    e = sub.add_parser(
        "export-llm",
        help="write a judge's LLM as a plain text checkpoint (for transformers serve and other text servers)",
        description="Write the LLM inside a judge (e.g. a fine-tuned Qwen2.5-VL judge from results/) as a "
        "plain LlamaForCausalLM checkpoint with the judge's tokenizer and chat template; its text logits are "
        "checked against the judge's. Serve it with: transformers serve OUT --port 8000",
    )
    e.add_argument("judge", help="'embedded', a results/ judge folder or judge.json, or a checkpoint folder")
    e.add_argument("out", help="the folder to write")
    return parser


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "device": args.device,
        "batch_size": args.batch_size,
        "base_url": args.base_url,
        "api_key_env": args.api_key_env,
        "concurrency": args.concurrency,
    }
    for entry in args.backend_option:
        key, sep, value = entry.partition("=")
        if not sep:
            raise SystemExit(f"--backend-option {entry!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return {k: v for k, v in options.items() if v is not None}


def options_from(args: argparse.Namespace) -> JudgeOptions:
    """The judge options the flags set (every JudgeOptions field has its flag)."""
    values = {
        "format": args.format,
        "scale": tuple(args.scale) if args.scale else None,
        "decimals": args.decimals,
        "allow_tie": not args.no_tie,
        "k": args.k,
        "aggregation": args.aggregation,
        "order": args.order,
        "max_think_tokens": args.max_think_tokens,
        "min_think_rounds": args.min_think_rounds,
        "force_answers": args.force_answers,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "seed": args.seed,
        "max_new_tokens": args.max_new_tokens,
        "prefill_think": not (args.no_prefill_think or args.answer_first),
        "reasoning": not args.answer_first,
    }
    assert set(values) == {f.name for f in fields(JudgeOptions)}, "a JudgeOptions field lacks its flag"
    return JudgeOptions(**values)


def _report(summary: dict[str, Any]) -> str:
    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}%"

    lines = [
        f"judged {summary['items']} rows ({summary['votes']} votes: {summary['votes_generated']} generated, "
        f"{summary['votes_cached']} from the cache) in {summary['seconds']} s",
        f"  parse rate     {pct(summary['parse_rate'])}"
        + (f"  failures: {summary['parse_failures']}" if summary["parse_failures"] else ""),
        f"  unscored rows  {summary['unscored_items']}",
    ]
    for key, label in (("flip_rate", "flip rate"), ("tie_rate", "tie rate"), ("accuracy", "accuracy")):
        if summary.get(key) is not None:
            lines.append(f"  {label:<14} {pct(summary[key])}")
    if summary.get("mean_abs_error") is not None:
        lines.append(f"  mean |error|   {summary['mean_abs_error']:.2f} (against gold)")
    if summary.get("mean_score") is not None:
        lines.append(f"  mean score     {summary['mean_score']:.2f}")
    if summary.get("verdicts"):
        lines.append(f"  verdicts       {summary['verdicts']}")
    if summary.get("skipped_rows"):
        lines.append(f"  skipped rows   {summary['skipped_rows']} (first: {summary['skipped'][0]})")
    lines.append(f"  wrote {summary['output']} and its .summary.json")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO, format="%(message)s"
    )
    from flexjudge.apply.judge import Judge, export_text_judge

    if args.command == "export-llm":
        try:
            done = export_text_judge(args.judge, args.out)
        except (DataError, ValueError, FileNotFoundError, RuntimeError) as exc:
            print(f"flexjudge export-llm: error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {done['out']} (text logits equal the judge's to {done['text_logit_max_diff']:.1e})")
        return 0

    try:
        options = options_from(args)
        judge = Judge.load(
            args.judge,
            backend=args.backend,
            cache=args.cache,
            progress=not args.quiet,
            **_backend_options(args),
        )
        summary = judge.judge_file(args.input, args.out, options, on_error=args.on_error)
    except (DataError, ValueError, FileNotFoundError, NotImplementedError) as exc:
        print(f"flexjudge judge: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a server's refusal (openai.APIError) after the client's retries
        if not type(exc).__module__.startswith("openai"):
            raise
        print(f"flexjudge judge: the server answered with an error: {exc}", file=sys.stderr)
        return 1
    print(_report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
