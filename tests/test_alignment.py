"""The alignment: SpeechT5's cross-attention from the generation that is scored, its diagonality,
its picture in every evaluation (alignments.png, the report) and in every in-training evaluation."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from transformers import SpeechT5Config, VitsModel, VitsTokenizer, set_seed

from hf_vclone.alignment import diagonality, most_diagonal
from hf_vclone.callbacks import VoiceEvaluator
from hf_vclone.config import EvaluationConfig
from hf_vclone.evaluation import compare_systems
from hf_vclone.models.speakers import SpeakerTable
from hf_vclone.models.speecht5 import SpeechT5Backend
from hf_vclone.models.vits import VitsBackend
from hf_vclone.plots import alignment_plot
from hf_vclone.synthesize import Synthesizer

RATE = 16000


def diagonal(steps: int = 60, tokens: int = 20) -> np.ndarray:
    """A model reading its text: each step on one token, advancing steadily (a staircase)."""
    alignment = np.zeros((steps, tokens), np.float32)
    alignment[np.arange(steps), np.arange(steps) * tokens // steps] = 1.0
    return alignment


def band(steps: int = 60, tokens: int = 20, token: int = 7) -> np.ndarray:
    """A model ignoring its text: it stares at one token (with a little spill) the whole time."""
    alignment = np.full((steps, tokens), 0.01, np.float32)
    alignment[:, token] = 1.0
    return alignment / alignment.sum(1, keepdims=True)


def blur(steps: int = 60, tokens: int = 20) -> np.ndarray:
    return np.full((steps, tokens), 1.0 / tokens, np.float32)


def test_diagonality_is_one_on_the_diagonal_and_near_zero_when_the_text_is_ignored() -> None:
    assert diagonality(diagonal()) == pytest.approx(1.0, abs=0.01)
    assert diagonality(diagonal(steps=200, tokens=13)) > 0.99  # any speaking rate
    assert abs(diagonality(band())) < 0.01 and abs(diagonality(blur())) < 0.01
    assert diagonality(diagonal()[::-1]) == pytest.approx(-1.0, abs=0.01)  # reading backwards
    # Mass off the path counts against it, even when every step's peak is on the diagonal.
    hazy = 0.5 * diagonal() + 0.5 * blur()
    assert (hazy.argmax(1) == diagonal().argmax(1)).all() and 0.3 < diagonality(hazy) < 0.7
    assert diagonality(np.zeros((5, 4))) == 0.0 and diagonality(np.ones((1, 4))) == 0.0


def test_the_most_diagonal_layer_is_shown() -> None:
    assert np.array_equal(most_diagonal(np.stack([band(), diagonal(), blur()])), diagonal())


def test_speecht5_alignment_averages_the_guided_heads_of_the_most_diagonal_layer() -> None:
    # (layers, heads, steps, tokens): in layer 1 the two guided heads read the text, the free heads stare.
    attention = torch.as_tensor(np.stack([
        np.stack([band(), band(), band(), band()]),
        np.stack([diagonal(), diagonal(), band(), blur()]),
    ]))
    guided = SpeechT5Config(use_guided_attention_loss=True, guided_attention_loss_num_heads=2)
    assert np.allclose(SpeechT5Backend.alignment(guided, attention), diagonal())
    unguided = SpeechT5Config(use_guided_attention_loss=False)
    assert np.allclose(SpeechT5Backend.alignment(unguided, attention), attention[1].mean(0).numpy())


def test_speecht5_speaks_and_aligns_in_one_generation(tiny_base: Path, tmp_path: Path) -> None:
    synth = Synthesizer(tiny_base)
    text = "The north wind and the sun were disputing which was the stronger."
    ids = torch.tensor([synth.processor.tokenizer(text)["input_ids"]])
    vector = synth.voice.speakers.vector(synth.voice.speakers.names[0]).detach()
    generate, calls = synth.voice.tts.generate, []
    synth.voice.tts.generate = lambda *args, **kwargs: calls.append(kwargs) or generate(*args, **kwargs)
    set_seed(0)
    spoken = synth.backend.speak(synth.voice, ids, vector, 0.5, 2.0, synth.processor, None)
    mel, wave, alignment = spoken.mel, spoken.audio, spoken.alignment
    assert len(calls) == 1 and calls[0]["output_cross_attentions"]  # one generation for the mel and the attention
    reduction = synth.voice.tts.config.reduction_factor
    assert len(mel) % reduction == 0 and alignment.shape == (len(mel) // reduction, ids.shape[1])
    assert np.allclose(alignment.sum(1), 1.0, atol=1e-4)  # each step's attention is a distribution over the text
    assert len(wave) > 0 and -1.0 <= diagonality(alignment) <= 1.0
    set_seed(0)
    synth.voice.tts.generate = generate
    plain = synth.voice.generate_mel(ids, vector, 0.5, 2.0).numpy()
    assert np.array_equal(plain, mel)  # asking for the attention does not change what is spoken
    set_seed(0)
    mel_only = synth.backend.speak(synth.voice, ids, vector, 0.5, 2.0, synth.processor, None, audio=False)
    assert mel_only.audio is None and np.array_equal(mel_only.mel, mel)
    path = alignment_plot({"fine_tuned": alignment, "again": alignment}, f'"{text}"', tmp_path / "alignment.png")
    assert path.is_file() and path.stat().st_size > 1000


def test_vits_speaks_as_before_and_has_no_alignment(tiny_vits_base: Path) -> None:
    backend = VitsBackend()
    tokenizer = VitsTokenizer.from_pretrained(tiny_vits_base)
    no_speakers = SpeakerTable(["x"], torch.zeros(1, 0), trainable=False)
    voice = backend.make_voice(VitsModel.from_pretrained(tiny_vits_base), no_speakers).eval()
    ids, speaker = torch.tensor([tokenizer("the north wind")["input_ids"]]), voice.speakers.vector()
    set_seed(0)
    spoken = backend.speak(voice, ids, speaker, 0.5, 2.0, tokenizer, None)
    set_seed(0)
    wave = voice.generate_waveform(ids).numpy()
    assert spoken.alignment is None and np.array_equal(spoken.audio, wave)
    assert np.array_equal(spoken.mel, voice.log10_mel(torch.from_numpy(wave)).numpy())  # measured on what it said


def test_compare_systems_draws_the_alignments_and_the_report_shows_them(tmp_path: Path) -> None:
    texts, mels, waves = ["One sentence.", "Another one."], [], []
    for i, f0 in enumerate((150.0, 180.0)):
        t = np.arange(RATE) / RATE
        waves.append((0.2 * np.sin(2 * np.pi * f0 * t)).astype(np.float32))
        mels.append(np.random.default_rng(i).normal(size=(1 + RATE // 256, 80)).astype(np.float32))
    rows = Dataset.from_dict({"id": ["a", "b"], "text": texts, "labels": mels})
    by_text = {text: i for i, text in enumerate(texts)}
    systems = {
        "base": lambda text: (mels[by_text[text]], waves[by_text[text]], band()),
        "fine_tuned": lambda text: (mels[by_text[text]], waves[by_text[text]], diagonal()),
        "no_attention": lambda text: (mels[by_text[text]], waves[by_text[text]], None),
    }
    cfg = EvaluationConfig(num_samples=2, asr_model=None)
    reference = lambda row: waves[by_text[row["text"]]]  # noqa: E731
    report = compare_systems(systems, rows, cfg, tmp_path, RATE, reference)
    assert (tmp_path / "alignments.png").is_file() and (tmp_path / "spectrograms.png").is_file()
    scores = {name: s["alignment_diagonality"] for name, s in report["systems"].items()}
    assert scores["fine_tuned"] > 0.99 and abs(scores["base"]) < 0.01 and scores["no_attention"] is None
    sample = json.loads((tmp_path / "metrics.json").read_text())["samples"][0]
    assert sample["fine_tuned"]["alignment_diagonality"] > 0.99 and "alignment_diagonality" not in sample["no_attention"]
    markdown = (tmp_path / "report.md").read_text()
    assert "![alignments](alignments.png)" in markdown and "alignment diagonality" in markdown
    # Systems without attention (real recordings, VITS) give no picture, and a stale one goes.
    compare_systems({"no_attention": systems["no_attention"]}, rows, cfg, tmp_path, RATE, reference)
    assert not (tmp_path / "alignments.png").exists() and "alignments.png" not in (tmp_path / "report.md").read_text()


def test_the_in_training_evaluator_draws_and_logs_the_alignment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[dict] = []

    class Sink:
        def log(self, step: int, audio: dict, images: dict, rate: int) -> None:
            logged.append(images)

    monkeypatch.setattr("hf_vclone.callbacks.media_sinks", lambda callbacks: [Sink()])
    t = np.arange(RATE) / RATE
    wave = (0.2 * np.sin(2 * np.pi * 150.0 * t)).astype(np.float32)
    mel = np.random.default_rng(0).normal(size=(1 + RATE // 256, 80)).astype(np.float32)
    evaluator = VoiceEvaluator(["One sentence."], [mel], [wave], ["clip"], lambda voice, text: (mel, wave, diagonal()),
                               RATE, None, tmp_path)
    scores = evaluator(torch.nn.Identity(), step=3, callbacks=[])
    assert scores["alignment_diagonality"] == pytest.approx(1.0, abs=0.01)
    folder = tmp_path / "eval_samples" / "step-3"
    assert sorted(p.name for p in folder.iterdir()) == ["clip.png", "clip.wav", "clip_alignment.png"]
    assert logged == [{"eval/clip_mel": folder / "clip.png", "eval/clip_alignment": folder / "clip_alignment.png"}]
