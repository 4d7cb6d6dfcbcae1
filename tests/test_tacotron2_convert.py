"""`hf-vclone convert tacotron2`: published checkpoints, written here in each published key layout,
become a save_pretrained folder with exactly their weights, and NVIDIA's symbol ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import VitsTokenizer

from hf_vclone.cli import main
from hf_vclone.errors import UserError
from hf_vclone.models.tacotron2 import Tacotron2Config, Tacotron2ForTextToSpeech
from hf_vclone.models.tacotron2.convert import convert_tacotron2

SMALL = dict(symbols_embedding_dim=16, encoder_embedding_dim=16, encoder_kernel_size=3, attention_rnn_dim=24,
             decoder_rnn_dim=20, prenet_dim=8, attention_dim=6, attention_location_n_filters=4,
             attention_location_kernel_size=7, postnet_embedding_dim=12, postnet_n_convolutions=4, n_mel_channels=10)


@pytest.fixture(scope="module")
def original() -> Tacotron2ForTextToSpeech:
    torch.manual_seed(0)
    model = Tacotron2ForTextToSpeech(Tacotron2Config(vocab_size=148, **SMALL))
    with torch.no_grad():  # trained-looking BatchNorm statistics, so they must travel too
        for name, buffer in model.named_buffers():
            if "running_" in name:
                buffer.uniform_(0.5, 1.5)
    return model.eval()


def _same_model(out: Path, original: Tacotron2ForTextToSpeech) -> None:
    converted = Tacotron2ForTextToSpeech.from_pretrained(out).eval()
    ours, theirs = converted.state_dict(), original.state_dict()
    assert ours.keys() == theirs.keys()
    for key in theirs:
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(ours[key], theirs[key]), key
    ids = torch.tensor([[40, 41, 42, 11, 43]])
    torch.manual_seed(1)
    a = original.generate(ids, max_decoder_steps=6).spectrogram
    torch.manual_seed(1)
    # The weights are equal bit for bit (above); the forward may differ in the last bit, as oneDNN picks
    # kernels by memory alignment on some CPUs (AVX2-only: 6e-8 seen), so 1e-6 here, far below a wiring error.
    torch.testing.assert_close(converted.generate(ids, max_decoder_steps=6).spectrogram, a, rtol=1e-6, atol=1e-6)


def test_nvidia_deeplearningexamples_layout(original: Tacotron2ForTextToSpeech, tmp_path: Path) -> None:
    state = {f"module.{k}": v for k, v in original.state_dict().items()}
    torch.save({"state_dict": state, "config": {"n_symbols": 148, "n_mel_channels": 10}, "epoch": 1500},
               tmp_path / "nvidia_tacotron2pyt_fp32.pt")
    assert main(["convert", "tacotron2", str(tmp_path / "nvidia_tacotron2pyt_fp32.pt"), str(tmp_path / "out")]) == 0
    _same_model(tmp_path / "out", original)


def test_nvidia_tacotron2_statedict_from_pytorch_0_4(original: Tacotron2ForTextToSpeech, tmp_path: Path) -> None:
    state = {k: v for k, v in original.state_dict().items() if not k.endswith("num_batches_tracked")}
    optimizer = torch.optim.Adam(original.parameters())
    torch.save({"state_dict": state, "optimizer": optimizer.state_dict(), "learning_rate": 1e-3, "iteration": 10},
               tmp_path / "tacotron2_statedict.pt")
    _same_model(convert_tacotron2(tmp_path / "tacotron2_statedict.pt", tmp_path / "out"), original)


def test_speechbrain_model_ckpt_and_the_nvidia_symbol_ids(original: Tacotron2ForTextToSpeech, tmp_path: Path) -> None:
    torch.save(original.state_dict(), tmp_path / "model.ckpt")
    out = convert_tacotron2(tmp_path / "model.ckpt", tmp_path / "out")
    _same_model(out, original)
    tokenizer = VitsTokenizer.from_pretrained(out)
    # NVIDIA's table: pad "_" 0, "-" 1, "!'(),.:;? " 2-11, "A".."Z" 12-37, "a".."z" 38-63, then ARPAbet;
    # english_cleaners lower-case first, so "Hi, Bo!" reads h i , space b o !
    assert tokenizer("Hi, Bo!")["input_ids"] == [45, 46, 6, 11, 39, 52, 2]
    assert tokenizer("-")["input_ids"] == [1]


def test_what_does_not_fit_is_named(original: Tacotron2ForTextToSpeech, tmp_path: Path) -> None:
    state = dict(original.state_dict())
    del state["decoder.gate_layer.linear_layer.bias"]
    state["decoder.extra.weight"] = torch.zeros(2)
    torch.save({"state_dict": state}, tmp_path / "broken.pt")
    with pytest.raises(UserError, match=r"missing decoder\.gate_layer\.linear_layer\.bias \| unexpected decoder\.extra"):
        convert_tacotron2(tmp_path / "broken.pt", tmp_path / "out")
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="no embedding.weight"):
        convert_tacotron2(tmp_path / "other.pt", tmp_path / "out")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "whole_module.pt")  # what NVIDIA/waveglow's .pt files do
    with pytest.raises(UserError, match=r"is a pickled torch.nn.modules.linear.Linear object, not a state dict.*hf_vclone refuses"):
        convert_tacotron2(tmp_path / "whole_module.pt", tmp_path / "out")


def test_frames_per_step_are_read_from_the_gate(tmp_path: Path) -> None:
    """A checkpoint of ours with r = 3 frames per decoder step (3 gates, 3 x 10 projection rows)
    converts to r = 3 and 10 mel bands, not to 30 bands."""
    torch.manual_seed(0)
    model = Tacotron2ForTextToSpeech(Tacotron2Config(vocab_size=148, n_frames_per_step=3, **SMALL)).eval()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "r3.pt")
    convert_tacotron2(tmp_path / "r3.pt", tmp_path / "out")
    config = Tacotron2Config.from_pretrained(tmp_path / "out")
    assert (config.n_frames_per_step, config.n_mel_channels) == (3, 10)
    _same_model(tmp_path / "out", model)
