"""The Tacotron 2 backend's own behaviour (the shared contract is tests/test_backend_conformance.py):
its mels are the published definition, freeze_lower keeps the frozen encoder's BatchNorm
statistics, and speaking stops at the length cap."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from conftest import TINY_TACOTRON2, tiny_recipe
from hf_vclone.config import recipe_from_dict
from hf_vclone.finetune import FineTuneRun
from hf_vclone.models.tacotron2 import Tacotron2Config
from hf_vclone.models.tacotron2.audio import Tacotron2Mel, griffin_lim
from hf_vclone.models.tacotron2.backend import Tacotron2Collator


def test_mels_are_the_published_definition() -> None:
    """Magnitude STFT (centred, reflect-padded, Hann), Slaney mel bands, natural log clamped at 1e-5:
    what librosa computes with the published settings (22,050 Hz, n_fft 1024, hop 256, 80 bands to 8 kHz)."""
    config = Tacotron2Config()
    wave = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    ours = Tacotron2Mel(config)(torch.from_numpy(wave)[None])[0].numpy()
    reference = librosa.feature.melspectrogram(y=wave, sr=22050, n_fft=1024, hop_length=256, win_length=1024,
                                               power=1.0, n_mels=80, fmin=0.0, fmax=8000.0, center=True,
                                               pad_mode="reflect")
    np.testing.assert_allclose(ours, np.log(np.maximum(reference, 1e-5)).T, atol=1e-4)
    assert ours.shape == (Tacotron2Mel(config).frames(len(wave)), 80)
    silence = Tacotron2Mel(config)(torch.zeros(1, 2048))[0]
    assert float(silence.min()) == float(silence.max()) == np.float32(np.log(1e-5))  # the clamp
    # and back: Griffin-Lim gives audio of the same length on the same grid
    assert abs(len(griffin_lim(ours, config, iterations=2)) - len(wave)) < 256


def test_griffin_lim_gives_the_same_audio_for_the_same_mel() -> None:
    """Random starting phases drawn afresh on every call made one mel a different waveform each time (and the
    same clone's CER read 0.218 and 0.183); from a fixed seed, a mel is one waveform, still carrying its spectrum."""
    config = Tacotron2Config()
    t = np.arange(22050) / 22050
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    mel = Tacotron2Mel(config)(torch.from_numpy(wave)[None])[0].numpy()
    first, second = griffin_lim(mel, config, iterations=8), griffin_lim(mel, config, iterations=8)
    np.testing.assert_array_equal(first, second)
    again = Tacotron2Mel(config)(torch.from_numpy(first)[None])[0].numpy()
    assert np.abs(again - mel)[:, :40].mean() < 0.5  # the bands below 1.4 kHz, where the tone is, come back


def test_the_collator_marks_real_tokens_and_frames() -> None:
    rows = [{"input_ids": [3, 4, 5], "labels": np.ones((4, 2)), "speaker_id": 0},
            {"input_ids": [6], "labels": np.ones((2, 2)), "speaker_id": 0}]
    batch = Tacotron2Collator(pad_token_id=0)(rows)
    assert batch["input_ids"].tolist() == [[3, 4, 5], [6, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels_attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert float(batch["labels"][1, 2:].abs().sum()) == 0.0


def test_freeze_lower_keeps_the_frozen_encoders_batchnorm_statistics(corpus: Path, tiny_tacotron2_base: Path,
                                                                      tmp_path: Path) -> None:
    raw = tiny_recipe(corpus, tiny_tacotron2_base, tmp_path / "out", model={"type": "tacotron2"},
                      strategy={"name": "freeze_lower"}, evaluation={"enabled": False},
                      tacotron2={"griffin_lim_iters": 2}, training={"max_steps": 2, "disable_tqdm": True})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    stats = lambda: {k: v.clone() for k, v in job.voice.state_dict().items() if "running_mean" in k}  # noqa: E731
    before = stats()
    job.train()
    after = stats()
    encoder = [k for k in before if ".encoder." in k]
    postnet = [k for k in before if ".postnet." in k]
    assert encoder and postnet
    assert all(torch.equal(before[k], after[k]) for k in encoder), "a frozen BatchNorm re-estimated its statistics"
    assert any(not torch.equal(before[k], after[k]) for k in postnet), "the trained postnet's statistics did not move"


def test_each_loss_term_is_logged_beside_the_loss(corpus: Path, tiny_tacotron2_base: Path, tmp_path: Path) -> None:
    """mel, gate and guided-attention terms are logged at every logging step, and they add up to
    the logged loss with the attention term's weight: a run shows which term moves."""
    raw = tiny_recipe(corpus, tiny_tacotron2_base, tmp_path / "out",
                      model={"type": "tacotron2", "config_overrides": {"guided_attention_loss_weight": 3.0}},
                      evaluation={"enabled": False}, tacotron2={"griffin_lim_iters": 2},
                      training={"max_steps": 3, "disable_tqdm": True})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    job.train()
    logged = [h for h in job.trainer.state.log_history if "loss" in h]
    assert len(logged) == 3
    for h in logged:
        assert h["attention_loss"] > 0 and h["gate_loss"] > 0 and h["mel_loss"] > 0
        assert h["loss"] == pytest.approx(h["mel_loss"] + h["gate_loss"] + 3.0 * h["attention_loss"], abs=2e-3)


def test_speaking_stops_at_maxlenratio_frames_per_token(corpus: Path, tiny_tacotron2_base: Path, tmp_path: Path) -> None:
    from hf_vclone.backends import get_backend
    from hf_vclone.export import read_voice
    from hf_vclone.voice_io import VoiceMeta, save_voice
    from hf_vclone.models.tacotron2 import Tacotron2ForTextToSpeech
    from hf_vclone.models.speakers import SpeakerTable
    from transformers import VitsTokenizer

    backend = get_backend("tacotron2")
    tts = Tacotron2ForTextToSpeech.from_pretrained(tiny_tacotron2_base)
    with torch.no_grad():
        tts.decoder.gate_layer.linear_layer.bias.fill_(-30.0)  # never stops by itself
    voice = backend.make_voice(tts, SpeakerTable(["me"], torch.zeros(1, 0), trainable=False))
    tokenizer = VitsTokenizer.from_pretrained(tiny_tacotron2_base)
    save_voice(voice, tokenizer, tmp_path / "v", VoiceMeta("tacotron2", None, "full"))
    voice, tokenizer, _ = read_voice(tmp_path / "v")
    ids = torch.tensor([tokenizer("the fox")["input_ids"]])
    spoken = backend.speak(voice, ids, torch.zeros(0), 0.5, 2.0, tokenizer, None)
    assert spoken.mel.shape == (2 * ids.shape[1], TINY_TACOTRON2["n_mel_channels"])
    assert spoken.alignment.shape == (2 * ids.shape[1], ids.shape[1])
    assert abs(len(spoken.audio) - spoken.mel.shape[0] * 256) <= 256


def test_lora_reaches_the_lstm_cells_trains_the_postnet_whole_and_merges_exactly(tiny_tacotron2_base: Path) -> None:
    from peft import LoraConfig, get_peft_model

    from hf_vclone.backends import get_backend
    from hf_vclone.models.tacotron2 import Tacotron2ForTextToSpeech

    base = Tacotron2ForTextToSpeech.from_pretrained(tiny_tacotron2_base).eval()
    lora = get_peft_model(base, LoraConfig(**get_backend("tacotron2").default_lora, init_lora_weights=False)).eval()
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    for cell in ("attention_rnn", "decoder_rnn"):
        assert sum(f"decoder.{cell}." in n and "lora_A" in n for n in trainable) == 2, cell  # weight_ih and weight_hh
    assert any("postnet" in n and "modules_to_save" in n for n in trainable)
    assert not any("postnet" in n and "lora_" in n for n in trainable)
    assert any("encoder.convolutions" in n and "lora_" in n for n in trainable)
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    labels = torch.randn(1, 8, TINY_TACOTRON2["n_mel_channels"])
    torch.manual_seed(0)
    adapted = lora(ids, labels=labels).spectrogram
    merged = lora.merge_and_unload()
    torch.manual_seed(0)
    torch.testing.assert_close(merged(ids, labels=labels).spectrogram, adapted, rtol=1e-4, atol=1e-5)
    torch.manual_seed(0)
    assert not torch.allclose(Tacotron2ForTextToSpeech.from_pretrained(tiny_tacotron2_base).eval()(
        ids, labels=labels).spectrogram, adapted)  # the adapter did change the output


def test_a_recipe_builds_a_tacotron2_from_scratch_and_names_an_unknown_field(tmp_path: Path) -> None:
    """model.init_config is checked against Tacotron2Config's own fields, which it sets in __init__
    on top of PretrainedConfig's dataclass fields (a check that read only the dataclass fields
    refused every one of them)."""
    from hf_vclone.config.schema import RecipeError

    def recipe(init: dict) -> dict:
        return tiny_recipe(tmp_path, tmp_path, tmp_path / "out",
                           model={"type": "tacotron2", "name_or_path": None, "processor": "build", "init_config": init})

    built = recipe_from_dict(recipe(TINY_TACOTRON2))
    assert built.model.init_config["decoder_rnn_dim"] == TINY_TACOTRON2["decoder_rnn_dim"]
    with pytest.raises(RecipeError) as err:
        recipe_from_dict(recipe({**TINY_TACOTRON2, "decoder_rnn_dims": 8}))
    assert err.value.problems == ["model.init_config.decoder_rnn_dims: not a Tacotron2Config field "
                                  "(did you mean 'decoder_rnn_dim'?)"]


@pytest.mark.slow
def test_a_killed_tacotron2_run_from_scratch_resumes_exactly(corpus: Path, tmp_path: Path) -> None:
    """Built from scratch (init_config, 2 frames per decoder step, guided attention), SIGKILLed at
    step 4 and resumed: the same losses and bit-identical weights as an unbroken run. The prenet's
    dropout draws from the global generator at every frame, so this holds only if the resume
    restores the RNG state as well as the weights and the optimiser."""
    from test_robustness import recipe, run_subprocess, weights

    def raw(out: Path, **training) -> dict:
        base = recipe(corpus, tmp_path, out, **training)
        base["model"] = {"type": "tacotron2", "name_or_path": None, "processor": "build",
                         "init_config": {**TINY_TACOTRON2, "n_frames_per_step": 2, "guided_attention_loss_weight": 1.0}}
        base.pop("speaker")  # as in recipes/tacotron2_demo_base.yaml: no speaker section
        return base

    unbroken, broken = tmp_path / "unbroken", tmp_path / "broken"
    whole = run_subprocess(raw(unbroken))
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = run_subprocess(raw(broken), kill_at=4)
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = run_subprocess(raw(broken, resume_from_checkpoint="latest"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "checkpoint-4" in resumed.stdout
    losses = [[h["loss"] for h in json.loads((folder / "checkpoint-8" / "trainer_state.json").read_text())["log_history"]
               if "loss" in h] for folder in (unbroken, broken)]
    assert losses[0] == losses[1] and len(losses[0]) == 8
    expected, got = weights(unbroken), weights(broken)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=0, msg=name)


def test_a_single_speaker_base_grows_speakers_and_a_clone_of_it_learns_its_own_vector(
        corpus: Path, tiny_tacotron2_base: Path, tmp_path: Path) -> None:
    """The multi-speaker demo base's path: a single-speaker Tacotron 2 continued on five voices
    with `speaker_embedding_dim` (fixed per-speaker vectors, the projection trained from zero),
    then cloned with freeze_lower: the clone's own vector trains, the base's speaker projection
    stays, and the saved clone speaks through its vector."""
    from hf_vclone.synthesize import Synthesizer

    base = tmp_path / "base"
    raw = tiny_recipe(corpus, tiny_tacotron2_base, base, speaker={"mode": "per_speaker"},
                      model={"type": "tacotron2", "config_overrides": {"speaker_embedding_dim": 8}},
                      data={"speaker": None, "exclude_speakers": ["us_f5"], "eval_size": 0},
                      evaluation={"enabled": False}, tacotron2={"griffin_lim_iters": 2},
                      training={"max_steps": 3, "learning_rate": 1e-2, "disable_tqdm": True})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    assert job.voice.speakers.vectors.shape == (5, 8) and not job.voice.speakers.vectors.requires_grad
    job.finish(job.train())
    names = ["gb_m3", "rp_f4", "sc_m2", "us_f2", "us_m1"]
    assert Synthesizer(base).voice.speakers.names == names
    projection = Synthesizer(base).voice.tts.speaker_projection.weight.detach().clone()
    assert torch.count_nonzero(projection) > 0, "the speaker projection did not train"
    one, two = (Synthesizer(base).mel("the fox", speaker=n, maxlenratio=2.0, seed=0) for n in ("us_m1", "gb_m3"))
    assert not np.allclose(one, two), "two base voices speak alike: the speaker vector does not reach the model"

    clone = tmp_path / "clone"
    raw = tiny_recipe(corpus, base, clone, model={"type": "tacotron2"}, strategy={"name": "freeze_lower"},
                      evaluation={"enabled": False}, tacotron2={"griffin_lim_iters": 2},
                      training={"max_steps": 3, "learning_rate": 1e-2, "disable_tqdm": True})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    start = job.voice.speakers.vectors.detach().clone()
    assert start.shape == (1, 8) and job.voice.speakers.vectors.requires_grad
    frozen = {n for n, p in job.voice.tts.named_parameters() if not p.requires_grad}
    assert {"speaker_projection.weight", "speaker_projection.bias"} <= frozen
    job.finish(job.train())
    saved = Synthesizer(clone)
    assert saved.voice.speakers.names == ["us_f5"]
    assert not torch.allclose(saved.voice.speakers.vectors, start), "the clone's vector did not train"
    torch.testing.assert_close(saved.voice.tts.speaker_projection.weight.float(), projection.float())
    assert saved.synthesize("the fox", seed=0)[0].size > 0


@pytest.mark.parametrize("dim", [0, 8])
def test_speaker_embedding_trains_only_the_vector_of_a_multi_speaker_tacotron2_and_refuses_a_single_speaker_one(
        corpus: Path, tiny_tacotron2_base: Path, tmp_path: Path, dim: int) -> None:
    from hf_vclone.errors import UserError

    raw = tiny_recipe(corpus, tiny_tacotron2_base, tmp_path / "out", strategy={"name": "speaker_embedding"},
                      model={"type": "tacotron2", "config_overrides": {"speaker_embedding_dim": dim}},
                      evaluation={"enabled": False}, training={"max_steps": 1, "disable_tqdm": True})
    job = FineTuneRun(recipe_from_dict(raw))
    if dim == 0:
        with pytest.raises(UserError, match="speaker_embedding trains only a speaker vector, and this model has none"):
            job.setup()
        return
    job.setup()
    assert [n for n, p in job.voice.named_parameters() if p.requires_grad] == ["speakers.vectors"]
