"""backend=openai against a live `transformers serve` on a loopback port, started and stopped here.

The server loads the embedded default's LLM exported as a plain LlamaForCausalLM (`flexjudge export-llm`:
transformers serve cannot load the Qwen2.5-VL body on this machine, whose video processor needs
torchvision). Its greedy votes must equal our own engine's on the embedded default for the same requests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from flexjudge.apply.cli import main
from flexjudge.apply.judge import Judge, JudgeOptions
from flexjudge.core.io import read_json

pytestmark = pytest.mark.slow
ROWS = [
    {"id": "sum", "prompt": "What is 2+2?", "responses": ["4", "5"]},
    {"id": "capital", "prompt": "What is the capital of France?", "responses": ["Berlin.", "Paris."]},
    {"id": "greet", "prompt": "Say hello politely.", "responses": ["Hello, nice to meet you!", "What?"]},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def exported(smollm2_manifest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("served") / "smollm2-text"
    assert main(["export-llm", str(smollm2_manifest), str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def server(exported, tmp_path_factory):
    """`transformers serve` of the exported LLM on a free loopback port: (base URL, model name)."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("w")
    cli = Path(sys.executable).with_name("transformers")
    proc = subprocess.Popen(
        [
            str(cli),
            "serve",
            str(exported),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--device",
            "cpu",
            "--dtype",
            "float32",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"transformers serve did not start (rc {proc.poll()}); see {log.name}")
        time.sleep(1)
    yield f"{url}/v1", str(exported)
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_served_greedy_votes_equal_our_engines_votes(server, smollm2_manifest, tmp_path):
    url, model = server
    options = JudgeOptions(format="pair_scores", max_new_tokens=40, prefill_think=False, order="original")
    served, summary = Judge.load(
        model, backend="openai", base_url=url, cache=tmp_path / "v.sqlite", progress=False
    ).judge_rows(ROWS, options)
    local, _ = Judge.load(smollm2_manifest, device="cpu", progress=False).judge_rows(ROWS, options)
    assert [r["votes"][0]["text"] for r in served] == [r["votes"][0]["text"] for r in local]
    assert summary["votes_generated"] == 3 and all(r["votes"][0]["n_tokens"] > 0 for r in served)
    # the same requests again come from the per-vote cache
    _, again = Judge.load(
        model, backend="openai", base_url=url, cache=tmp_path / "v.sqlite", progress=False
    ).judge_rows(ROWS, options)
    assert again["votes_cached"] == 3 and again["votes_generated"] == 0


def test_k_votes_are_k_seeded_requests_and_completions_continue_the_think_prefill(
    server, smollm2_manifest, tmp_path
):
    url, model = server
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]), encoding="utf-8")
    args = [
        "judge",
        str(path),
        "--backend",
        "openai",
        "--judge",
        model,
        "--base-url",
        url,
        "--max-new-tokens",
        "48",
        "--max-think-tokens",
        "24",
        "--temperature",
        "0.8",
        "--backend-option",
        "continuation=completions",
        "--backend-option",
        f"tokenizer={model}",
        "--quiet",
    ]
    assert main([*args, "-k", "2"]) == 0
    first = read_json(tmp_path / "pairs.judged.jsonl.summary.json")
    assert first["votes"] == 4 and first["votes_generated"] == 4
    assert main([*args, "-k", "3"]) == 0  # one more vote per row: only those are requested
    summary = read_json(tmp_path / "pairs.judged.jsonl.summary.json")
    assert summary["votes_generated"] == 2 and summary["votes_cached"] == 4
    rows = [json.loads(line) for line in (tmp_path / "pairs.judged.jsonl").read_text().splitlines()]
    for row in rows:
        texts = [v["text"] for v in row["votes"]]
        assert len(set(texts)) > 1, "votes with their own seeds should differ at temperature 0.8"
        for vote in row["votes"]:  # the think budget holds: 24 think tokens at most, then the forced close
            assert vote["think_tokens"] is not None and vote["think_tokens"] <= 24 + 2
            assert vote["forced_close"] or "</think>" in vote["text"]


def test_what_a_server_cannot_do_is_an_error_that_says_so(server, tmp_path):
    url, model = server
    judge = Judge.load(model, backend="openai", base_url=url, progress=False)
    with pytest.raises(NotImplementedError, match="cannot open the answer inside <think>"):
        judge.judge_rows(ROWS[:1], JudgeOptions())  # prefill_think needs continuation=vllm or completions
    with pytest.raises(NotImplementedError, match="cannot force a thinking budget"):
        judge.judge_rows(ROWS[:1], JudgeOptions(prefill_think=False, max_think_tokens=8))


def test_an_api_key_reaches_no_config_log_or_result(server, tmp_path):
    """The evaluate stage against the server with a key in $OPENAI_API_KEY and W&B logging (offline): the key
    is in no file the run writes (Hydra's config dumps, the W&B run, logs, predictions, metrics, the cache)."""
    from conftest import stage_cfg
    from flexjudge.curate import run as curate

    url, model = server
    curate(stage_cfg("curate", tmp_path, "heldout_size=3", "pool_size=4"))
    secret = "sk-flexjudge-test-" + os.urandom(12).hex()
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "flexjudge.evaluate", f"paths.results={tmp_path}", "backend=openai"]
    cmd += [f"backend.model={model}", f"backend.base_url={url}", f"judge={model}", "prefill_think=false"]
    cmd += [f"benchmark.path={tmp_path / 'curate' / 'heldout.jsonl'}", "max_new_tokens=24", "logger=wandb"]
    cmd += ["bootstrap=0", "progress=false", f"out_dir={out}", f"hydra.run.dir={out}"]
    env = {**os.environ, "OPENAI_API_KEY": secret, "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert read_json(out / "metrics.json")["votes"] == {"total": 3, "cached": 0, "generated": 3}
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any("wandb" in p.parts for p in written) and any(p.suffix == ".sqlite" for p in written)
    assert secret not in done.stdout + done.stderr
    leaked = [p for p in written if secret.encode() in p.read_bytes()]
    assert not leaked, leaked
