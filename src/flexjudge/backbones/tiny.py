"""Tiny random test models (Llama, Qwen2.5-VL, Qwen2.5-Omni thinker) with an in-process tokenizer."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

from flexjudge.backbones.chat_template import (
    CHAT_TEMPLATE,
    LLAVA_CHAT_TEMPLATE,
    LLAVA_IMAGE_TOKEN,
    VISION_TOKENS,
)
from flexjudge.backbones.configs import TINY_AUDIO, TINY_VISION
from flexjudge.backbones.placement import (
    generation_config_for,
    place_llm_in_qwen2_5_omni_thinker,
    place_llm_in_qwen2_5_vl,
)


def _tokenizer_corpus() -> Iterator[str]:
    """A small fixed corpus (a score-pair prompt and its answer) the tiny test tokenizer is trained on."""
    from flexjudge.protocol.formats import PairScores
    from flexjudge.protocol.prompts import judge_completion

    system, user = PairScores().messages(
        "Human: How do I boil an egg?", ["Put it in boiling water for 8 minutes.", "I cannot help with that."]
    )
    for _ in range(4):
        yield system["content"]
        yield user["content"]
        yield judge_completion("Reply A answers the question; reply B refuses for no reason.", [8, 2])


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with ChatML and media special tokens, trained in-process in milliseconds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *VISION_TOKENS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_tokenizer_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token="<|im_start|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_llama_config(tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    """A 2-layer Llama config (hidden 32) for tests; RoPE base as SmolLM2's."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def tiny_qwen2_5_vl(seed: int = 0) -> tuple[Qwen2_5_VLForConditionalGeneration, PreTrainedTokenizerFast]:
    """A randomly initialised tiny Qwen2.5-VL (same classes as the 7B) with its tokenizer, in seconds."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    llm = LlamaForCausalLM(tiny_llama_config(tokenizer)).eval()
    return place_llm_in_qwen2_5_vl(llm, tokenizer, vision=TINY_VISION, seed=seed), tokenizer


def tiny_qwen2_5_omni_thinker(
    seed: int = 0,
) -> tuple[Qwen2_5OmniThinkerForConditionalGeneration, PreTrainedTokenizerFast]:
    """A randomly initialised tiny Qwen2.5-Omni thinker (same classes as the 7B) with its tokenizer."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    llm = LlamaForCausalLM(tiny_llama_config(tokenizer)).eval()
    model = place_llm_in_qwen2_5_omni_thinker(llm, tokenizer, vision=TINY_VISION, audio=TINY_AUDIO, seed=seed)
    return model, tokenizer


def _llava_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = tiny_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": [LLAVA_IMAGE_TOKEN]})
    tokenizer.chat_template = LLAVA_CHAT_TEMPLATE
    return tokenizer


#: The vision tower of the tiny LLaVA classes: 28-pixel images in 14-pixel patches (4 patches).
TINY_LLAVA_VISION = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=28,
    patch_size=14,
)


def tiny_llava(seed: int = 0):
    """A randomly initialised tiny LLaVA-1.5 (LlavaForConditionalGeneration: CLIP tower, Llama LLM; the class of
    Prometheus-Vision) with its tokenizer and CLIP image processor."""
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    tokenizer = _llava_tokenizer()
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**TINY_LLAVA_VISION),
        text_config=tiny_llama_config(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids(LLAVA_IMAGE_TOKEN),
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).to(torch.float32).eval()
    model.generation_config = generation_config_for(tokenizer)
    size = TINY_LLAVA_VISION["image_size"]
    image = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return model, tokenizer, image


def tiny_llava_onevision(seed: int = 0):
    """A randomly initialised tiny LLaVA-OneVision (SigLIP tower, Qwen2 LLM; the class of LLaVA-Critic) with its
    tokenizer and image processor (one 28-pixel tile and the base view)."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessorPil,
        Qwen2Config,
        SiglipVisionConfig,
    )

    tokenizer = _llava_tokenizer()
    llama = tiny_llama_config(tokenizer)
    size = TINY_LLAVA_VISION["image_size"]
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**TINY_LLAVA_VISION, vision_use_head=False),
        text_config=Qwen2Config(
            vocab_size=llama.vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_index=tokenizer.convert_tokens_to_ids(LLAVA_IMAGE_TOKEN),
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        image_grid_pinpoints=[[size, size]],
        vision_aspect_ratio="anyres_max_9",
    )
    torch.manual_seed(seed)
    model = LlavaOnevisionForConditionalGeneration(config).to(torch.float32).eval()
    model.generation_config = generation_config_for(tokenizer)
    image = LlavaOnevisionImageProcessorPil(
        size={"height": size, "width": size}, image_grid_pinpoints=[[size, size]]
    )
    return model, tokenizer, image


def tiny_llama(seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """A randomly initialised tiny text-only Llama (the molecule-case LLM class) with its tokenizer."""
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(tokenizer)).to(torch.float32).eval()
    model.generation_config = generation_config_for(tokenizer)
    return model, tokenizer
