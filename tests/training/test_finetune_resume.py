"""A fine-tune killed with SIGKILL resumes from its last complete checkpoint and ends with the same weights
as an uninterrupted run; checkpoints of another config are not resumed; two DDP processes
(`accelerate launch`, gloo on CPU) follow the single-process loss curve at the same effective batch;
LoRA trains adapters on the LLM's projections only and saves merged weights."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import make_sft
from flexjudge import REPO_ROOT
from flexjudge.core.io import read_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory, tiny_manifest, curated) -> Path:
    tmp = tmp_path_factory.mktemp("sft")
    return make_sft(tmp, tiny_manifest, curated, 8, "max_new_tokens=8", "rationalize.max_new_tokens=16")


def _cmd(out: Path, manifest: Path, data: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flexjudge.finetune",
        "backbone=tiny_vl",
        f"base={manifest}",
        f"data={data}",
        "trainer.epochs=3",
        "trainer.per_device_batch_size=1",
        "trainer.grad_accumulation=1",
        "trainer.save_steps=2",
        "trainer.max_length=1024",
        "trainer.learning_rate=1e-2",
        "logger=none",
        "progress=false",
        "threads=1",
        f"out_dir={out}",
        f"hydra.run.dir={out}",
        *extra,
    ]


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _complete_step(out: Path) -> int:
    marks = list((out / "trainer").glob("checkpoint-*/flexjudge-complete"))
    return max((int(m.parent.name.split("-")[1]) for m in marks), default=0)


def _lora_manifest(tmp_path: Path, tiny_manifest: Path) -> Path:
    """A copy of the tiny backbone's manifest that asks for LoRA (as qwen2_5_vl_32b does)."""
    import json

    from flexjudge.backbones.loader import read_manifest

    manifest = tmp_path / "base" / "judge.json"
    manifest.parent.mkdir(exist_ok=True)
    weights = str(read_manifest(tiny_manifest)["weights"])
    manifest.write_text(
        json.dumps({**json.loads(Path(tiny_manifest).read_text()), "weights": weights, "lora": True})
    )
    return manifest


@pytest.mark.parametrize(
    "variant", ["full", "lora_checkpointing"], ids=["full", "lora+gradient-checkpointing"]
)
def test_killed_finetune_resumes_to_the_same_weights(tmp_path, tiny_manifest, sft_data, variant):
    manifest, extra = tiny_manifest, ()
    if variant == "lora_checkpointing":
        manifest = _lora_manifest(tmp_path, tiny_manifest)
        extra = ("trainer.gradient_checkpointing=true", "trainer.lora_r=4", "trainer.lora_alpha=8")
    straight = tmp_path / "straight"
    _run(_cmd(straight, manifest, sft_data, *extra))
    assert not (straight / "trainer").exists()  # checkpoints are removed after a successful run

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cmd(killed, manifest, sft_data, *extra),
        cwd=REPO_ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _complete_step(killed) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = _complete_step(killed)
    assert proc.returncode == -signal.SIGKILL and step >= 4, "the run finished before it could be killed"
    assert not (killed / "judge.json").exists()

    log = _run(_cmd(killed, manifest, sft_data, *extra))
    assert "resuming from" in log
    report = (killed / "train_report.json").read_text()
    assert f'"resumed_from": "checkpoint-{step}"' in report
    a = load_file(str(straight / "checkpoint" / "model.safetensors"))
    b = load_file(str(killed / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    base = load_file(str(Path(read_manifest_weights(tiny_manifest)) / "model.safetensors"))
    assert any(not torch.equal(base[k], a[k]) for k in a if ".layers." in k)  # training changed the LLM


def read_manifest_weights(manifest: Path) -> str:
    from flexjudge.backbones.loader import read_manifest

    return str(read_manifest(manifest)["weights"])


def test_checkpoints_of_another_config_are_not_resumed(tmp_path, tiny_manifest, sft_data):
    out = tmp_path / "run"
    _run(_cmd(out, tiny_manifest, sft_data, "trainer.epochs=1", "keep_checkpoints=true"))
    assert _complete_step(out) > 0
    log = _run(_cmd(out, tiny_manifest, sft_data, "trainer.epochs=1", "trainer.learning_rate=5e-3"))
    assert "removing checkpoints of another config" in log and "resuming from" not in log


def test_two_processes_follow_the_single_process_loss_curve(tmp_path, tiny_manifest, sft_data):
    import json

    one, two = tmp_path / "one", tmp_path / "two"
    common = ("backend.device=cpu", "trainer.save_steps=0", "trainer.per_device_batch_size=2")
    _run(_cmd(one, tiny_manifest, sft_data, *common, "trainer.grad_accumulation=2"))
    accelerate = Path(sys.executable).with_name("accelerate")
    with socket.socket() as sock:  # a free port, so a concurrent run elsewhere cannot collide with ours
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    launch = [str(accelerate), "launch", "--config_file", str(REPO_ROOT / "conf/accelerate/cpu2.yaml")]
    launch += ["--main_process_port", str(port)]
    cmd = _cmd(two, tiny_manifest, sft_data, *common, "trainer.grad_accumulation=1")
    _run([*launch, *cmd[1:]])  # drop the interpreter: accelerate starts its own

    def losses(out: Path) -> list[float]:
        report = json.loads((out / "train_report.json").read_text())
        return [e["loss"] for e in report["log_history"] if "loss" in e]

    report = json.loads((two / "train_report.json").read_text())
    assert (report["processes"], report["distributed"], report["fsdp"]) == (2, "MULTI_CPU", False)
    a, b = losses(one), losses(two)
    assert len(read_jsonl(sft_data)) == 8
    assert (
        len(a) == len(b) == 6
    )  # 8 examples / effective batch 4 x 3 epochs: the work was split, not repeated
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-3


def test_one_example_per_micro_batch_follows_the_packed_batch_loss_curve(tmp_path, tiny_manifest, sft_data):
    """Four examples packed into one micro-batch, or one example per micro-batch with four accumulated: the
    same examples make each optimizer step and the loss is normalised over the step's supervised tokens,
    so the two follow one loss curve (tried for the demo: slower on two threads, 549 s against 422 s)."""
    import json

    packed, single = tmp_path / "packed", tmp_path / "single"
    common = ("backend.device=cpu", "trainer.save_steps=0")
    _run(
        _cmd(
            packed,
            tiny_manifest,
            sft_data,
            *common,
            "trainer.per_device_batch_size=4",
            "trainer.grad_accumulation=1",
        )
    )
    _run(
        _cmd(
            single,
            tiny_manifest,
            sft_data,
            *common,
            "trainer.per_device_batch_size=1",
            "trainer.grad_accumulation=4",
        )
    )

    def losses(out: Path) -> list[float]:
        report = json.loads((out / "train_report.json").read_text())
        return [e["loss"] for e in report["log_history"] if "loss" in e]

    a, b = losses(packed), losses(single)
    assert len(a) == len(b) == 6 and a[0] != a[-1]
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-3


def test_lora_trains_adapters_on_the_llm_and_saves_merged_weights(tmp_path, tiny_manifest, sft_data):
    import json

    lora_manifest = _lora_manifest(tmp_path, tiny_manifest)
    weights = read_manifest_weights(tiny_manifest)
    out = tmp_path / "lora"
    _run(_cmd(out, lora_manifest, sft_data, "trainer.epochs=1", "trainer.lora_r=4", "trainer.lora_alpha=8"))
    report = json.loads((out / "train_report.json").read_text())
    assert report["lora"] is True
    before = load_file(weights + "/model.safetensors")
    after = load_file(str(out / "checkpoint" / "model.safetensors"))
    assert before.keys() == after.keys()  # merged: the base layout, no adapter tensors
    visual = [k for k in before if k.startswith("visual.")]
    assert visual and all(torch.equal(before[k], after[k]) for k in visual)
    projections = [k for k in before if k.startswith("model.layers.") and k.endswith("q_proj.weight")]
    norms = [k for k in before if k.endswith("layernorm.weight")]
    assert projections and all(not torch.equal(before[k], after[k]) for k in projections)
    assert norms and all(torch.equal(before[k], after[k]) for k in norms)  # only adapted projections moved
    assert report["trainable_parameters"] < sum(
        t.numel() for k, t in before.items() if k.startswith("model.")
    )


@pytest.mark.parametrize(
    ("env", "topology", "message"),
    [
        (
            {"WORLD_SIZE": "2"},
            {"processes": 1, "distributed": "NO"},
            "every process would train the whole run",
        ),
        (
            {"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"},
            {"processes": 2, "distributed": "MULTI_CPU"},
            "asks for FSDP but the Trainer runs MULTI_CPU",
        ),
        (
            {"WORLD_SIZE": "8", "ACCELERATE_USE_DEEPSPEED": "true"},
            {"processes": 8, "distributed": "MULTI_GPU"},
            "asks for DEEPSPEED",
        ),
    ],
)
def test_a_launch_the_trainer_would_not_honour_fails(monkeypatch, env, topology, message):
    """FSDP / DeepSpeed configs on CPU, or processes that never joined a group, stop with an error
    (the Trainer would otherwise silently fall back to DDP, or train the whole run in every process)."""
    from flexjudge.training.trainer import check_topology

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(RuntimeError, match=message):
        check_topology({"fsdp": False, "deepspeed": False, **topology})
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    monkeypatch.delenv("ACCELERATE_USE_DEEPSPEED", raising=False)
    check_topology(
        {"fsdp": False, "deepspeed": False, "processes": int(env["WORLD_SIZE"]), "distributed": "MULTI_CPU"}
    )


def test_auto_device_without_cuda_trains_on_the_cpu():
    """`backend.device=auto` on a machine without CUDA tells the Trainer it is on the CPU, which it needs
    for a bf16 recipe there (it refuses bf16 on a CPU it was not told about)."""
    from flexjudge.training.trainer import on_cpu

    assert on_cpu("cpu") and not on_cpu("cuda")
    assert on_cpu("auto") == (not torch.cuda.is_available())
