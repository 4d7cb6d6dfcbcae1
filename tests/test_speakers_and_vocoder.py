from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig, SpeechT5Processor

from hf_vclone.config import SpeakerConfig
from hf_vclone.errors import UserError
from hf_vclone.models.speakers import SpeakerTable, build_speakers, random_unit_vector
from hf_vclone.models.speecht5 import SpeechT5Backend


def test_per_speaker_vectors_are_fixed_unit_vectors_stable_across_calls() -> None:
    table = build_speakers(SpeakerConfig(mode="per_speaker"), ["a", "b"], 16, None)
    again = build_speakers(SpeakerConfig(mode="per_speaker"), ["a", "b"], 16, None)
    assert torch.equal(table.vectors, again.vectors)
    assert not table.vectors.requires_grad
    assert torch.allclose(table.vectors.norm(dim=-1), torch.ones(2))
    assert not torch.allclose(table.vector("a"), table.vector("b"))


def test_learned_vector_starts_at_the_mean_of_the_base_voices(tiny_base: Path) -> None:
    base = SpeakerTable.load(tiny_base)
    table = build_speakers(SpeakerConfig(mode="learned", init="base_mean"), ["target"], 16, str(tiny_base))
    mean = base.vectors.mean(0)
    assert table.vectors.requires_grad
    assert torch.allclose(table.vector(), mean / mean.norm())


def test_file_vector_is_loaded_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "xvector.npy"
    np.save(path, np.arange(16, dtype=np.float32))
    table = build_speakers(SpeakerConfig(mode="file", path=str(path)), ["me"], 16, None)
    assert table.vector().tolist() == list(range(16)) and not table.vectors.requires_grad
    with pytest.raises(UserError, match="has 16 values; the model expects 512"):
        build_speakers(SpeakerConfig(mode="file", path=str(path)), ["me"], 512, None)


def test_cloning_one_voice_from_many_speakers_is_refused_with_the_fix() -> None:
    with pytest.raises(UserError, match="select one with data.speaker or"):
        build_speakers(SpeakerConfig(mode="learned"), ["a", "b"], 16, None)


def test_speaker_table_round_trips_names_order_and_values(tmp_path: Path) -> None:
    names = ["zeta", "alpha", "mid"]
    table = SpeakerTable(names, torch.stack([random_unit_vector(n, 8) for n in names]), trainable=False)
    table.save(tmp_path)
    loaded = SpeakerTable.load(tmp_path)
    assert loaded.names == names and torch.equal(loaded.vectors, table.vectors)
    with pytest.raises(UserError, match="unknown speaker 'nobody'"):
        loaded.vector("nobody")


def test_a_named_hifigan_vocoder_is_loaded_and_used(tiny_base: Path, tmp_path: Path) -> None:
    config = SpeechT5HifiGanConfig(
        model_in_dim=80, upsample_initial_channel=16, upsample_rates=[4, 4], upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]], normalize_before=False,
    )
    SpeechT5HifiGan(config).save_pretrained(tmp_path / "vocoder")
    backend = SpeechT5Backend()
    vocoder = backend.load_vocoder(str(tmp_path / "vocoder"))
    mel = np.random.default_rng(0).normal(size=(30, 80)).astype(np.float32)
    audio = backend.mel_to_audio(mel, SpeechT5Processor.from_pretrained(tiny_base), vocoder)
    assert audio.shape == (30 * 16,)
    griffin_lim = backend.mel_to_audio(mel, SpeechT5Processor.from_pretrained(tiny_base), None)
    assert abs(len(griffin_lim) - 30 * 256) <= 256  # Griffin-Lim at the extractor's 256-sample hop
