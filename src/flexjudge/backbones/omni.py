"""The Qwen2.5-Omni pieces: its audio feature extractor, and a fine-tuned thinker put back into the full Omni model (talker and token2wav from small configs) to save it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    PreTrainedTokenizerBase,
    Qwen2_5OmniConfig,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

from flexjudge.backbones.checkpoints import save_checkpoint
from flexjudge.backbones.configs import SMALL_AUDIO


def tiny_omni_speech_configs(thinker: Qwen2_5OmniThinkerConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tiny talker and token2wav configs (random, untrained) that fit around `thinker` in the full Omni class.

    They exist only so the full Qwen2.5-Omni checkpoint layout can be written and loaded in tests; the
    judge never speaks. Token ids the talker reads are the thinker's.
    """
    text = thinker.get_text_config()
    talker = dict(
        vocab_size=64,
        embedding_size=text.hidden_size,  # the talker reads the thinker's embeddings and hidden states
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=2048,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        audio_token_index=thinker.audio_token_index,
        image_token_index=thinker.image_token_index,
        video_token_index=thinker.video_token_index,
        audio_start_token_id=thinker.audio_start_token_id,
        audio_end_token_id=thinker.audio_end_token_id,
        vision_start_token_id=getattr(thinker, "vision_start_token_id", None),
        vision_end_token_id=getattr(thinker, "vision_end_token_id", None),
        tts_codec_start_token_id=60,
        tts_codec_end_token_id=61,
        tts_codec_pad_token_id=62,
        tts_codec_mask_token_id=63,
        tts_text_start_token_id=text.bos_token_id,
        tts_text_end_token_id=text.eos_token_id,
        tts_text_pad_token_id=text.pad_token_id,
    )
    token2wav = dict(
        dit_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            head_dim=16,
            ff_mult=1,
            emb_dim=16,
            num_embeds=64,
            mel_dim=16,
            enc_emb_dim=16,
            enc_dim=16,
            enc_channels=[16, 16, 16, 16, 48],
            enc_attention_channels=8,
            enc_se_channels=8,
            look_ahead_layers=[0],
            look_backward_layers=[0],
        ),
        bigvgan_config=dict(
            mel_dim=16,
            upsample_initial_channel=16,
            resblock_kernel_sizes=[3],
            resblock_dilation_sizes=[[1, 3, 5]],
            upsample_rates=[2],
            upsample_kernel_sizes=[4],
        ),
    )
    return talker, token2wav


@torch.no_grad()
def thinker_into_full_omni(
    thinker: Qwen2_5OmniThinkerForConditionalGeneration,
    *,
    base: Qwen2_5OmniForConditionalGeneration | None = None,
    seed: int = 0,
) -> Qwen2_5OmniForConditionalGeneration:
    """Put a (trained) thinker back into the full Qwen2.5-Omni model, as the paper does before saving.

    With `base` (the original full model: its talker and token2wav are kept) the thinker replaces
    `base.thinker`; without it a full model is built around the thinker with tiny random speech modules
    (tests and small defaults). The thinker's weights are copied, so later training of `thinker` does
    not change the returned model.
    """
    if base is None:
        talker, token2wav = tiny_omni_speech_configs(thinker.config)
        config = Qwen2_5OmniConfig(
            thinker_config=thinker.config.to_dict(), talker_config=talker, token2wav_config=token2wav
        )
        torch.manual_seed(seed)
        base = Qwen2_5OmniForConditionalGeneration(config).to(torch.float32).eval()
    base.thinker.load_state_dict(thinker.state_dict(), strict=True)
    base.thinker.tie_weights()
    base.thinker.generation_config = thinker.generation_config
    return base


def save_full_omni(
    thinker: Qwen2_5OmniThinkerForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    *,
    base: Qwen2_5OmniForConditionalGeneration | None = None,
    speakers: str | Path | None = None,
    image_processor: Any | None = None,
    feature_extractor: Any | None = None,
) -> Path:
    """Save `thinker` inside the full Qwen2.5-Omni class (safetensors) so that
    `Qwen2_5OmniForConditionalGeneration.from_pretrained(out_dir).thinker` carries its weights.

    That loader also requires `spk_dict.pt` (speaker conditioning for the talker): copied from `speakers`
    (the base checkpoint's file) or, for tiny random models, a small random one matching the token2wav.
    """
    import shutil

    full = thinker_into_full_omni(thinker, base=base)
    out = save_checkpoint(full, tokenizer, out_dir, image_processor, feature_extractor)
    if speakers is not None:
        shutil.copyfile(speakers, out / "spk_dict.pt")
    else:
        dit = full.config.token2wav_config.dit_config
        generator = torch.Generator().manual_seed(0)
        speaker = {
            "cond": torch.randn(1, dit.enc_emb_dim, generator=generator),
            "ref_mel": torch.randn(1, 8, dit.mel_dim, generator=generator),
            "bos_token": int(full.config.talker_config.tts_codec_start_token_id),
        }
        torch.save({"Chelsie": speaker}, out / "spk_dict.pt")
    return out


def omni_feature_extractor():
    """A Whisper log-mel feature extractor for the Omni audio tower: 128 bins, 16 kHz, 30 s window."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=SMALL_AUDIO["num_mel_bins"], sampling_rate=16_000)
