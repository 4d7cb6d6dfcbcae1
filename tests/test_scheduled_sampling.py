"""Parallel scheduled sampling (`speecht5.scheduled_sampling`): which frames the decoder is fed.

Checked against an independent route: a decoder is causal, so the model's prediction of the
frames of step k is what a teacher-forced pass over only the first k steps predicts last.
"""

import pytest
import torch
from transformers.models.speecht5 import modeling_speecht5

from conftest import TINY
from hf_vclone.config import ModelConfig, RecipeError, SpeechT5TrainingConfig, recipe_from_dict
from hf_vclone.models.char_tokenizer import build_processor
from hf_vclone.models.speakers import SpeakerTable, random_unit_vector
from hf_vclone.models.speecht5 import SpeechT5Backend

TEXTS = ["the old farmer carried a heavy box near the river.", "a young painter found seven apples twice."]
NO_DROPOUT = dict(hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, positional_dropout=0.0,
                  speech_decoder_postnet_dropout=0.0)


@pytest.fixture
def voice(tmp_path, monkeypatch):
    """A tiny SpeechT5 voice without any randomness but the sampling itself (the prenet's dropout,
    active even at inference, is switched off), in training mode."""
    monkeypatch.setattr(modeling_speecht5.SpeechT5SpeechDecoderPrenet, "_consistent_dropout", lambda self, x, p: x)
    processor = build_processor(TEXTS * 20, tmp_path)
    torch.manual_seed(0)
    backend = SpeechT5Backend(SpeechT5TrainingConfig(scheduled_sampling=1.0))
    tts = backend.load_model(ModelConfig(name_or_path=None, init_config={**TINY, **NO_DROPOUT}), processor)
    voice = backend.make_voice(tts, SpeakerTable(["a"], random_unit_vector("a", 16)[None], False))
    ids = torch.tensor([processor.tokenizer(TEXTS[0])["input_ids"]])
    labels = torch.randn(1, 24, tts.config.num_mel_bins)  # 12 decoder steps at reduction factor 2
    return voice.train(), ids, labels


def _prediction_of_last_step(voice, ids, labels) -> torch.Tensor:
    """The pre-postnet frames a plain teacher-forced pass over `labels` predicts, last frame."""
    seen = []
    hook = voice.tts.speech_decoder_postnet.feat_out.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        voice.tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, speaker_embeddings=voice.speakers(torch.zeros(1, dtype=torch.long)))
    hook.remove()
    return seen[0].view(1, -1, voice.tts.config.num_mel_bins)[0, -1]


def test_every_step_fed_its_own_prediction_of_the_previous_step(voice) -> None:
    voice, ids, labels = voice
    r = voice.tts.config.reduction_factor
    fed = voice.sampled_decoder_inputs(ids, torch.ones_like(ids), labels, voice.speakers(torch.zeros(1, dtype=torch.long)))
    assert fed.shape == (1, 12, labels.shape[-1])
    assert torch.equal(fed[0, 0], torch.zeros(labels.shape[-1]))  # the first step sees silence, as in generate
    for step in (1, 5, 11):
        expected = _prediction_of_last_step(voice, ids, labels[:, : step * r])
        torch.testing.assert_close(fed[0, step], expected, rtol=1e-4, atol=1e-5)
        # and not the real frame it replaces
        assert not torch.allclose(fed[0, step], labels[0, step * r - 1], atol=1e-2)


def test_the_share_of_predicted_steps_follows_the_setting(voice) -> None:
    voice, ids, labels = voice
    labels = torch.randn(1, 800, labels.shape[-1])
    speaker = voice.speakers(torch.zeros(1, dtype=torch.long))
    voice.scheduled_sampling = 1.0
    predicted = voice.sampled_decoder_inputs(ids, torch.ones_like(ids), labels, speaker)
    real = modeling_speecht5.shift_spectrograms_right(labels, voice.tts.config.reduction_factor)[0]
    voice.scheduled_sampling = 0.3
    torch.manual_seed(1)
    mixed = voice.sampled_decoder_inputs(ids, torch.ones_like(ids), labels, speaker)
    from_prediction = (mixed == predicted).all(-1)[0, 1:]
    from_real = (mixed == real).all(-1)[0, 1:]
    assert bool((from_prediction ^ from_real).all())  # each step is one or the other, whole
    assert 0.22 < float(from_prediction.float().mean()) < 0.38


def test_training_loss_and_gradients_with_sampling_and_plain_loss_otherwise(voice) -> None:
    voice, ids, labels = voice
    plain = voice.tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, speaker_embeddings=voice.speakers(torch.zeros(1, dtype=torch.long))).loss
    sampled = voice(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
    assert torch.isfinite(sampled) and not torch.allclose(sampled, plain)
    sampled.backward()
    assert all(p.grad is not None for p in voice.tts.speech_decoder_postnet.feat_out.parameters())
    voice.eval()  # evaluation losses stay teacher-forced, comparable across runs and settings
    plain_eval = voice.tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels,
                           speaker_embeddings=voice.speakers(torch.zeros(1, dtype=torch.long))).loss
    torch.testing.assert_close(voice(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss, plain_eval)
    voice.train()
    voice.scheduled_sampling = 0.0
    torch.testing.assert_close(voice(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss, plain)


def test_a_share_outside_zero_to_one_is_refused_by_name() -> None:
    with pytest.raises(RecipeError, match="speecht5.scheduled_sampling"):
        recipe_from_dict({"data": {"path": "x"}, "speecht5": {"scheduled_sampling": 1.5}})


def test_a_recipe_trains_with_it(corpus, tiny_base, tmp_path) -> None:
    from conftest import tiny_recipe
    from hf_vclone.finetune import FineTuneRun

    raw = tiny_recipe(corpus, tiny_base, tmp_path / "out", speecht5={"scheduled_sampling": 0.5},
                      evaluation={"enabled": False}, training={"max_steps": 2})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    assert job.voice.scheduled_sampling == 0.5
    calls = []
    original = job.voice.sampled_decoder_inputs
    job.voice.sampled_decoder_inputs = lambda *a: calls.append(1) or original(*a)
    job.finish(job.train())
    assert len(calls) == 2
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_the_ramp_starts_late_and_rises_linearly() -> None:
    from hf_vclone.models.speecht5 import ScheduledSamplingRamp

    ramp = ScheduledSamplingRamp(0.5, start=100, ramp=200)
    assert [ramp.share_at(s) for s in (0, 99, 100, 200, 300, 10_000)] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.5]
    assert ScheduledSamplingRamp(0.4, start=10, ramp=0).share_at(9) == 0.0
    assert ScheduledSamplingRamp(0.4, start=10, ramp=0).share_at(10) == 0.4
    with pytest.raises(RecipeError, match="speecht5.scheduled_sampling_start"):
        recipe_from_dict({"data": {"path": "x"}, "speecht5": {"scheduled_sampling_start": -1}})


def test_a_recipe_with_a_delayed_start_samples_only_from_that_step(corpus, tiny_base, tmp_path) -> None:
    from conftest import tiny_recipe
    from hf_vclone.finetune import FineTuneRun

    raw = tiny_recipe(corpus, tiny_base, tmp_path / "out", evaluation={"enabled": False}, training={"max_steps": 4},
                      speecht5={"scheduled_sampling": 0.5, "scheduled_sampling_start": 2, "scheduled_sampling_ramp": 0})
    job = FineTuneRun(recipe_from_dict(raw))
    job.setup()
    assert job.voice.scheduled_sampling == 0.0
    shares = []
    original = job.voice.sampled_decoder_inputs
    job.voice.sampled_decoder_inputs = lambda *a: shares.append(job.voice.scheduled_sampling) or original(*a)
    job.finish(job.train())
    assert shares == [0.5, 0.5]  # steps 2 and 3 of 0-3


def test_text_only_clips_are_fed_silence_at_every_step_and_the_others_their_real_frames(voice) -> None:
    voice, ids, labels = voice
    voice.scheduled_sampling = 0.0
    speaker = voice.speakers(torch.zeros(1, dtype=torch.long))
    r = voice.tts.config.reduction_factor
    real = modeling_speecht5.shift_spectrograms_right(labels, r)[0]
    silence = voice.tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, speaker_embeddings=speaker,
                        decoder_input_values=torch.zeros_like(real)).loss
    plain = voice.tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, speaker_embeddings=speaker).loss
    assert not torch.allclose(silence, plain)
    voice.text_only = 1.0
    torch.testing.assert_close(voice(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss, silence)
    voice.eval()  # inference and evaluation losses are untouched (eval mode: BatchNorm's running statistics)
    plain_eval = voice.tts(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, speaker_embeddings=speaker).loss
    torch.testing.assert_close(voice(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss, plain_eval)
    voice.train()
    # a share of whole clips: each clip is all silence or all real frames
    many = labels.repeat(400, 1, 1) + torch.randn(400, 1, 1)
    voice.text_only = 0.3
    fed = voice.text_only_decoder_inputs(many, None)
    silent = (fed == 0).flatten(1).all(1)
    assert torch.equal(fed[~silent], modeling_speecht5.shift_spectrograms_right(many, r)[0][~silent])
    assert 0.22 < float(silent.float().mean()) < 0.38
    with pytest.raises(RecipeError, match="speecht5.text_only"):
        recipe_from_dict({"data": {"path": "x"}, "speecht5": {"text_only": -0.1}})
