"""DPO (flexjudge.training.dpo): the loss's fixed points and a hand-computed value, the two log-prob modes,
agreement with TRL's DPOTrainer on one batch, and a short training run that learns the preference."""

import math

import pytest
import torch

from flexjudge.backbones.inputs import IGNORE
from flexjudge.backbones.tiny import tiny_llama
from flexjudge.training.dpo import collate, dpo_loss, sequence_logps, train_dpo

CFG = dict(
    beta=0.1,
    lr=1e-2,
    warmup_ratio=0.0,
    weight_decay=0.05,
    epochs=3,
    batch_size=2,
    grad_accumulation=1,
    max_length=64,
    logp_tokens="completion",
    seed=0,
)


def examples(tok):
    ids = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    return [
        {"prompt_ids": ids("is it active"), "chosen_ids": ids(" yes it is"), "rejected_ids": ids(" no")},
        {"prompt_ids": ids("tell me"), "chosen_ids": ids(" high"), "rejected_ids": ids(" low or moderate")},
    ]


def test_loss_is_log2_when_the_policy_is_the_reference():
    logps = torch.tensor([-3.0, -7.5])
    loss, chosen, rejected = dpo_loss(logps, logps + 1, logps, logps + 1, beta=0.1)
    assert abs(loss.item() - math.log(2)) < 1e-6 and chosen.abs().max() == 0 and rejected.abs().max() == 0


def test_loss_matches_a_hand_computed_value():
    # chosen: log π − log π_ref = −1 − (−1.5) = 0.5; rejected: −2 − (−1.5) = −0.5
    # β·(0.5 − (−0.5)) = 0.1; loss = −log σ(0.1) = log(1 + e^−0.1) = 0.644397
    loss, chosen, rejected = dpo_loss(
        torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]), torch.tensor([-1.5]), beta=0.1
    )
    assert loss.item() == pytest.approx(0.6443967, abs=1e-6)
    assert chosen.item() == pytest.approx(0.05) and rejected.item() == pytest.approx(-0.05)


def test_completion_mode_ignores_prompt_and_padding_and_all_mode_counts_them():
    model, tok = tiny_llama()
    batch = collate(examples(tok), tok.pad_token_id, 64)
    assert batch["input_ids"].shape[0] == 4 and (batch["labels"][0, :3] == IGNORE).all()
    done = sequence_logps(model, batch, "completion")
    everything = sequence_logps(model, batch, "all")
    assert (everything < done).all()  # more (negative) terms
    # completion mode sums exactly the log-probs at the answer tokens
    with torch.no_grad():
        logp = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.log_softmax(
            -1
        )
    row, labels = 0, batch["labels"][0]
    want = sum(
        logp[row, t - 1, batch["input_ids"][row, t]].item()
        for t in range(1, labels.shape[0])
        if labels[t] != IGNORE
    )
    assert done[0].item() == pytest.approx(want, abs=1e-4)
    # changing a prompt token changes "all" through that token's own log-prob at least as much as "completion"
    other = {k: v.clone() for k, v in batch.items()}
    other["input_ids"][:, 1] = (other["input_ids"][:, 1] + 1) % model.config.vocab_size
    assert sequence_logps(model, other, "all")[0].item() != pytest.approx(everything[0].item(), abs=1e-6)
    with pytest.raises(ValueError, match="logp_tokens"):
        sequence_logps(model, batch, "prompt")


def test_agrees_with_trl_on_one_batch(tmp_path):
    trl = pytest.importorskip("trl", reason="trl is not installed (pip install -e '.[dev]')")
    from datasets import Dataset

    model, tok = tiny_llama()
    reference = tiny_llama(seed=1)[0]  # a different reference, so the loss is not log 2
    args = trl.DPOConfig(
        output_dir=str(tmp_path),
        report_to="none",
        per_device_train_batch_size=2,
        beta=0.1,
        max_length=64,
        use_cpu=True,
        precompute_ref_log_probs=False,
    )
    text = [
        {"prompt": "is it active", "chosen": " yes it is", "rejected": " no"},
        {"prompt": "tell me", "chosen": " high", "rejected": " low or moderate"},
    ]
    trainer = trl.DPOTrainer(
        model=model,
        ref_model=reference,
        args=args,
        train_dataset=Dataset.from_list(text),
        processing_class=tok,
    )
    rows = [trainer.train_dataset[i] for i in range(2)]  # TRL's own tokenization, fed to both
    inputs = trainer.data_collator(rows)
    theirs = trainer.compute_loss(model, inputs).item()
    batch = collate(rows, tok.pad_token_id, 64)
    pc, pr = sequence_logps(model, batch).chunk(2)
    with torch.no_grad():
        rc, rr = sequence_logps(reference, batch).chunk(2)
    ours, _, _ = dpo_loss(pc, pr, rc, rr, 0.1)
    assert ours.item() == pytest.approx(theirs, abs=1e-5)
    assert ours.item() != pytest.approx(math.log(2), abs=1e-4)


def test_training_learns_the_preference_and_leaves_no_reference_behind(tmp_path):
    model, tok = tiny_llama()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    summary = train_dpo(model, tok, examples(tok) * 2, CFG, out_dir=tmp_path, progress=False)
    assert summary["first_loss"] == pytest.approx(math.log(2), abs=1e-5)  # step 1: policy = reference
    assert summary["last_loss"] < 0.5 and summary["last_reward_accuracy"] == 1.0
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())
    assert (tmp_path / "history.json").exists()
    with pytest.raises(ValueError, match="at least one"):
        train_dpo(model, tok, [], CFG, progress=False)
