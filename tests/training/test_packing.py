"""Padding-free packing: an example's logits are the same alone and packed behind another one,
with transformers' block-diagonal SDPA mask and with our per-example attention."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaForCausalLM

from flexjudge.backbones.attention import ATTENTION
from flexjudge.backbones.tiny import tiny_llama_config, tiny_qwen2_5_vl, tiny_tokenizer
from flexjudge.training.sft import IGNORE, PackCollator, PadCollator, encode_chat, supervised_loss, uses_mrope

CHATS = [
    [
        {"role": "user", "content": "Is the sky blue?"},
        {"role": "assistant", "content": "<think>\nYes.\n</think>\n<answer>A</answer>"},
    ],
    [
        {
            "role": "user",
            "content": "Which reply is kinder, A or B? A: go away. B: happy to help, what do you need?",
        },
        {
            "role": "assistant",
            "content": "<think>\nB offers help, A dismisses.\n</think>\n<answer>B</answer>",
        },
    ],
]


def _models():
    vl, tok = tiny_qwen2_5_vl(seed=0)
    torch.manual_seed(0)
    llama = LlamaForCausalLM(tiny_llama_config(tok))
    return [(vl, tok), (llama, tok)]


@pytest.mark.parametrize("attention", ["sdpa", ATTENTION])
@pytest.mark.parametrize("which", [0, 1], ids=["qwen2_5_vl", "llama"])
def test_packed_examples_do_not_see_each_other(which, attention):
    model, tok = _models()[which]
    model.set_attn_implementation(attention)  # ours runs one causal SDPA per example, sdpa a block mask
    model.eval()
    examples = [encode_chat(tok, chat, 512) for chat in CHATS]
    packed = PackCollator(mrope=uses_mrope(model))(examples[::-1])  # the long example first, then the short
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    with torch.no_grad():
        together = model(**{k: v for k, v in packed.items() if k not in ("labels", "logits_to_keep")}).logits[
            0
        ]
        for start, ex in zip((0, len(examples[1]["input_ids"])), examples[::-1], strict=True):
            alone = model(input_ids=torch.tensor([ex["input_ids"]])).logits[0]
            torch.testing.assert_close(
                together[start : start + len(ex["input_ids"])], alone, atol=1e-5, rtol=1e-5
            )


def test_packing_keeps_every_label_but_the_first_of_each_example():
    tok = tiny_tokenizer()
    examples = [encode_chat(tok, chat, 512) for chat in CHATS]
    packed = PackCollator()(examples)
    padded = PadCollator(tok.pad_token_id)(examples)
    assert (
        packed["input_ids"].numel()
        == sum(len(e["input_ids"]) for e in examples)
        < padded["input_ids"].numel()
    )
    assert (packed["labels"] != IGNORE).sum() == (padded["labels"] != IGNORE).sum()
    assert packed["position_ids"][0].tolist() == list(range(len(examples[0]["input_ids"]))) + list(
        range(len(examples[1]["input_ids"]))
    )


def test_logits_at_supervised_positions_give_the_models_own_loss():
    model, tok = tiny_qwen2_5_vl(seed=0)
    model.eval()
    batch = PackCollator(uses_mrope(model))([encode_chat(tok, chat, 512) for chat in CHATS])
    common = dict(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False)
    with torch.no_grad():
        full = model(**common, labels=batch["labels"]).loss
        kept = model(**common, logits_to_keep=batch["logits_to_keep"])
    assert kept.logits.shape[1] == int((batch["labels"] != IGNORE).sum()) < batch["input_ids"].shape[1]
    torch.testing.assert_close(supervised_loss(kept, batch["labels"]), full, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # a model without logits_to_keep (the Omni thinker) returns every position
        every = model(**common)
    torch.testing.assert_close(supervised_loss(every, batch["labels"]), full, rtol=1e-5, atol=1e-5)
