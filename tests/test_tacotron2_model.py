"""Tacotron 2 as a transformers model (hf_vclone/models/tacotron2), checked against the math:
location-sensitive attention by hand, teacher forcing that never sees the future, losses over real
frames only, padding that changes nothing, the stop gate, guided attention, NVIDIA's parameter
names and shapes, and the Hugging Face round trips (save/load, Auto classes, peft LoRA)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch.nn import functional as F
from transformers import AutoModelForTextToSpectrogram

from hf_vclone.models.tacotron2 import Tacotron2Config, Tacotron2ForTextToSpeech
from hf_vclone.models.tacotron2.modeling import Attention, guided_attention_loss

TINY = dict(vocab_size=20, symbols_embedding_dim=16, encoder_embedding_dim=16, attention_rnn_dim=24, decoder_rnn_dim=24,
            prenet_dim=8, attention_dim=8, attention_location_n_filters=4, attention_location_kernel_size=5,
            postnet_embedding_dim=12, n_mel_channels=6, max_decoder_steps=30)


@pytest.fixture
def model() -> Tacotron2ForTextToSpeech:
    torch.manual_seed(0)
    return Tacotron2ForTextToSpeech(Tacotron2Config(**TINY)).eval()


def _batch() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 20, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    labels = torch.randn(2, 9, 6, generator=g)
    frames = torch.ones(2, 9)
    frames[1, 6:] = 0
    return ids, mask, labels, frames


def test_location_sensitive_attention_equals_the_formula() -> None:
    torch.manual_seed(0)
    att = Attention(query_dim=5, memory_dim=4, attention_dim=3, n_filters=2, kernel_size=3)
    query, memory = torch.randn(2, 5), torch.randn(2, 6, 4)
    weights_cat = torch.rand(2, 2, 6)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[1, 4:] = True
    context, weights = att(query, memory, att.memory_layer(memory), weights_cat, pad)
    W = att.query_layer.linear_layer.weight
    U = att.memory_layer.linear_layer.weight
    conv = att.location_layer.location_conv.conv.weight  # (filters, 2, kernel)
    dense = att.location_layer.location_dense.linear_layer.weight
    v = att.v.linear_layer.weight[0]
    for b in range(2):
        energies = []
        for n in range(6):
            # the location features of token n: the kernel over positions n-1 .. n+1 of both weight rows
            window = torch.stack([weights_cat[b, :, j] if 0 <= j < 6 else torch.zeros(2) for j in (n - 1, n, n + 1)], -1)
            location = dense @ (conv * window).sum((1, 2))
            energies.append(v @ torch.tanh(W @ query[b] + U @ memory[b, n] + location))
        e = torch.stack(energies)
        e[pad[b]] = -math.inf
        expected = torch.softmax(e, 0)
        torch.testing.assert_close(weights[b], expected)
        torch.testing.assert_close(context[b], expected @ memory[b])
    assert float(weights[1, 4:].detach().abs().sum()) == 0.0


def test_teacher_forcing_predicts_each_frame_from_the_frames_before_it(model: Tacotron2ForTextToSpeech) -> None:
    ids, mask, labels, frames = _batch()
    torch.manual_seed(5)
    out = model(ids, mask, labels, frames).spectrogram_before_postnet
    changed = labels.clone()
    changed[:, 4] += 3.0
    torch.manual_seed(5)  # the same prenet dropout masks
    again = model(ids, mask, changed, frames).spectrogram_before_postnet
    torch.testing.assert_close(again[:, :5], out[:, :5])  # frame 4 is read first by the step for frame 5
    assert (again[:, 5] - out[:, 5]).abs().max() > 1e-4


def test_losses_are_over_real_frames_and_padding_changes_nothing(model: Tacotron2ForTextToSpeech) -> None:
    ids, mask, labels, frames = _batch()
    torch.manual_seed(5)
    out = model(ids, mask, labels, frames)
    real = frames.bool()
    mse = lambda x: ((x - labels) ** 2)[real].mean()  # noqa: E731
    torch.testing.assert_close(out.mel_loss, mse(out.spectrogram_before_postnet) + mse(out.spectrogram))
    target = torch.zeros(2, 9)
    target[0, 8:] = 1  # the last real frame of each clip, and every frame after it
    target[1, 5:] = 1
    gate = F.binary_cross_entropy_with_logits(out.gate_logits, target, reduction="none")[real].mean()
    torch.testing.assert_close(out.gate_loss, gate)
    torch.testing.assert_close(out.loss, out.mel_loss + out.gate_loss)

    # garbage in the padding (frames and tokens) changes neither the loss nor clip 1's real outputs
    noisy_labels, noisy_ids = labels.clone(), ids.clone()
    noisy_labels[1, 6:] = 100.0
    noisy_ids[1, 5:] = 3
    torch.manual_seed(5)
    noisy = model(noisy_ids, mask, noisy_labels, frames)
    torch.testing.assert_close(noisy.loss, out.loss)
    torch.testing.assert_close(noisy.spectrogram_before_postnet[1, :6], out.spectrogram_before_postnet[1, :6])
    assert float(out.alignments[1, :, 5:].abs().sum()) == 0.0  # no attention on padded tokens


def test_a_padded_item_encodes_as_it_does_alone(model: Tacotron2ForTextToSpeech) -> None:
    ids, mask, _, _ = _batch()
    batched, _ = model.encode(ids, mask)
    alone, _ = model.encode(ids[1:, :5], None)
    torch.testing.assert_close(batched[1, :5], alone[0])


def test_generation_stops_when_the_gate_fires_and_reports_when_it_did_not(model: Tacotron2ForTextToSpeech) -> None:
    ids = torch.randint(1, 20, (1, 6))
    bias = model.decoder.gate_layer.linear_layer.bias
    with torch.no_grad():
        bias.fill_(20.0)  # sigmoid ~ 1: stop after the first frame
    quick = model.generate(ids)
    assert quick.lengths.tolist() == [1] and quick.stopped.tolist() == [True] and quick.spectrogram.shape == (1, 1, 6)
    with torch.no_grad():
        bias.fill_(-20.0)  # never stops: cut at max_decoder_steps, and says so
    endless = model.generate(ids, max_decoder_steps=12)
    assert endless.lengths.tolist() == [12] and endless.stopped.tolist() == [False]
    assert endless.alignments.shape == (1, 12, 6)
    torch.testing.assert_close(endless.alignments.sum(-1), torch.ones(1, 12))


def test_generation_is_repeatable_under_a_seed_and_varies_without_one(model: Tacotron2ForTextToSpeech) -> None:
    ids = torch.randint(1, 20, (1, 6))
    torch.manual_seed(3)
    a = model.generate(ids, max_decoder_steps=10).spectrogram
    torch.manual_seed(3)
    b = model.generate(ids, max_decoder_steps=10).spectrogram
    c = model.generate(ids, max_decoder_steps=10).spectrogram
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)  # the prenet's dropout stays on at inference, as in the original


def test_guided_attention_loss_by_hand() -> None:
    frames, tokens = torch.tensor([2]), torch.tensor([2])
    diagonal = torch.eye(2)[None]
    anti = torch.eye(2).flip(1)[None]
    assert float(guided_attention_loss(diagonal, frames, tokens, 0.2)) == pytest.approx(0.0)
    # off-diagonal by half the sentence: each costs 1 - exp(-0.25 / 0.08); two of the four pairs
    assert float(guided_attention_loss(anti, frames, tokens, 0.2)) == pytest.approx(2 * (1 - math.exp(-3.125)) / 4)


def test_guided_attention_enters_the_loss_with_its_weight() -> None:
    torch.manual_seed(0)
    model = Tacotron2ForTextToSpeech(Tacotron2Config(**TINY, guided_attention_loss_weight=2.0)).eval()
    ids, mask, labels, frames = _batch()
    out = model(ids, mask, labels, frames)
    assert out.attention_loss > 0
    torch.testing.assert_close(out.loss, out.mel_loss + out.gate_loss + 2.0 * out.attention_loss)


def test_parameter_names_and_shapes_are_nvidias() -> None:
    """At the published size: a converted NVIDIA checkpoint is a prefix strip away."""
    with torch.device("meta"):
        full = Tacotron2ForTextToSpeech(Tacotron2Config())
    shapes = {k: tuple(v.shape) for k, v in full.state_dict().items()}
    expected = {
        "embedding.weight": (148, 512),
        "encoder.convolutions.0.0.conv.weight": (512, 512, 5), "encoder.convolutions.2.1.running_var": (512,),
        "encoder.lstm.weight_ih_l0": (1024, 512), "encoder.lstm.weight_hh_l0_reverse": (1024, 256),
        "decoder.prenet.layers.0.linear_layer.weight": (256, 80), "decoder.prenet.layers.1.linear_layer.weight": (256, 256),
        "decoder.attention_rnn.weight_ih": (4096, 768), "decoder.attention_rnn.bias_hh": (4096,),
        "decoder.attention_layer.query_layer.linear_layer.weight": (128, 1024),
        "decoder.attention_layer.memory_layer.linear_layer.weight": (128, 512),
        "decoder.attention_layer.v.linear_layer.weight": (1, 128),
        "decoder.attention_layer.location_layer.location_conv.conv.weight": (32, 2, 31),
        "decoder.attention_layer.location_layer.location_dense.linear_layer.weight": (128, 32),
        "decoder.decoder_rnn.weight_ih": (4096, 1536), "decoder.linear_projection.linear_layer.weight": (80, 1536),
        "decoder.linear_projection.linear_layer.bias": (80,), "decoder.gate_layer.linear_layer.weight": (1, 1536),
        "decoder.gate_layer.linear_layer.bias": (1,),
        "postnet.convolutions.0.0.conv.weight": (512, 80, 5), "postnet.convolutions.4.0.conv.weight": (80, 512, 5),
        "postnet.convolutions.4.1.num_batches_tracked": (),
    }
    for key, shape in expected.items():
        assert shapes.get(key) == shape, key
    # no bias where NVIDIA has none
    for key in ("decoder.prenet.layers.0.linear_layer.bias", "decoder.attention_layer.v.linear_layer.bias",
                "decoder.attention_layer.location_layer.location_conv.conv.bias"):
        assert key not in shapes
    # embedding; 3 encoder conv+BatchNorm (7 each); BiLSTM; prenet; attention LSTM; attention (5 matrices);
    # decoder LSTM; projection and gate (weight, bias); 5 postnet conv+BatchNorm
    assert len(shapes) == 1 + 3 * 7 + 8 + 2 + 4 + 5 + 4 + 4 + 5 * 7


def test_save_load_auto_classes_and_lora_round_trip(model: Tacotron2ForTextToSpeech, tmp_path: Path) -> None:
    ids, mask, labels, frames = _batch()
    model.save_pretrained(tmp_path / "full")
    loaded = AutoModelForTextToSpectrogram.from_pretrained(tmp_path / "full").eval()
    assert isinstance(loaded, Tacotron2ForTextToSpeech)
    torch.manual_seed(5)
    a = model(ids, mask, labels, frames).loss
    torch.manual_seed(5)
    b = loaded(ids, mask, labels, frames).loss
    torch.testing.assert_close(a, b)

    lora = get_peft_model(loaded, LoraConfig(r=2, target_modules=["linear_layer", "conv"], init_lora_weights=False))
    trainable = {n for n, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert any("location_conv" in n for n in trainable) and any("gate_layer" in n for n in trainable)
    torch.manual_seed(5)
    with_adapter = lora(ids, mask, labels, frames).loss
    assert not torch.equal(with_adapter, b)
    lora.save_pretrained(tmp_path / "adapter")
    base = AutoModelForTextToSpectrogram.from_pretrained(tmp_path / "full")
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    torch.manual_seed(5)
    torch.testing.assert_close(reloaded(ids, mask, labels, frames).loss, with_adapter)


def test_settings_the_model_cannot_run_are_refused() -> None:
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match=f"n_frames_per_step={bad}"):
            Tacotron2Config(n_frames_per_step=bad)
    with pytest.raises(ValueError, match="symbols_embedding_dim must equal"):
        Tacotron2Config(symbols_embedding_dim=256)
    with pytest.raises(ValueError, match="needs labels"):
        Tacotron2ForTextToSpeech(Tacotron2Config(**TINY))(torch.ones(1, 3, dtype=torch.long))


@pytest.mark.parametrize("r", [2, 3])
def test_r_frames_per_step_read_only_each_steps_last_real_frame(r: int) -> None:
    """Reduction factor r (Tacotron 1): the step for frames [k r, (k + 1) r) reads frame k r - 1
    alone, so a frame that ends a step changes every later step and nothing before, a frame inside
    a step changes no prediction at all, and a clip whose length is not a multiple of r loses
    nothing (its last step is cut to its frames, the loss is over real frames only)."""
    torch.manual_seed(0)
    model = Tacotron2ForTextToSpeech(Tacotron2Config(**TINY, n_frames_per_step=r)).eval()
    ids, mask, labels, frames = _batch()  # 9 and 6 real frames: neither a multiple of 3 and 9 not of 2
    torch.manual_seed(5)
    out = model(ids, mask, labels, frames)
    assert out.spectrogram.shape == labels.shape and out.gate_logits.shape == frames.shape
    assert out.alignments.shape == (2, 9, 7)
    torch.testing.assert_close(out.alignments[:, :r], out.alignments[:, :1].expand(-1, r, -1))  # one per step

    end = r - 1  # the last frame of the first step: read by the second step
    changed = labels.clone()
    changed[:, end] += 3.0
    torch.manual_seed(5)
    again = model(ids, mask, changed, frames).spectrogram_before_postnet
    torch.testing.assert_close(again[:, :r], out.spectrogram_before_postnet[:, :r])
    assert (again[:, r:2 * r] - out.spectrogram_before_postnet[:, r:2 * r]).abs().min() > 0  # every frame of it

    inside = labels.clone()
    inside[:, r] += 3.0  # the first frame of the second step: no step reads it
    torch.manual_seed(5)
    torch.testing.assert_close(model(ids, mask, inside, frames).spectrogram_before_postnet,
                               out.spectrogram_before_postnet)

    real = frames.bool()
    mse = lambda x: ((x - labels) ** 2)[real].mean()  # noqa: E731
    torch.testing.assert_close(out.mel_loss, mse(out.spectrogram_before_postnet) + mse(out.spectrogram))
    noisy = labels.clone()
    noisy[1, 6:] = 100.0
    torch.manual_seed(5)
    torch.testing.assert_close(model(ids, mask, noisy, frames).loss, out.loss)


def test_r_frames_per_step_stop_at_the_first_frame_whose_gate_fires() -> None:
    torch.manual_seed(0)
    model = Tacotron2ForTextToSpeech(Tacotron2Config(**TINY, n_frames_per_step=3)).eval()
    ids = torch.randint(1, 20, (1, 6))
    bias = model.decoder.gate_layer.linear_layer.bias
    with torch.no_grad():
        bias.copy_(torch.tensor([-20.0, 20.0, 20.0]))  # the second frame of the first step fires
    quick = model.generate(ids)
    assert quick.lengths.tolist() == [2] and quick.stopped.tolist() == [True]
    assert quick.spectrogram.shape == (1, 3, 6)  # the whole step was decoded; lengths says where it ends
    with torch.no_grad():
        bias.fill_(-20.0)
    endless = model.generate(ids, max_decoder_steps=11)  # not a multiple of 3: cut to 11 frames
    assert endless.lengths.tolist() == [11] and endless.stopped.tolist() == [False]
    assert endless.spectrogram.shape == (1, 11, 6) and endless.alignments.shape == (1, 11, 6)
    torch.testing.assert_close(endless.alignments.sum(-1), torch.ones(1, 11))


def test_the_gates_positive_frames_weigh_gate_positive_weight() -> None:
    """One positive frame per clip against many negatives: `gate_positive_weight` multiplies the
    positive frames' cross-entropy (pos_weight), and only theirs."""
    torch.manual_seed(0)
    model = Tacotron2ForTextToSpeech(Tacotron2Config(**TINY, gate_positive_weight=10.0)).eval()
    ids, mask, labels, frames = _batch()
    torch.manual_seed(5)
    out = model(ids, mask, labels, frames)
    target = torch.zeros(2, 9)
    target[0, 8:] = 1
    target[1, 5:] = 1
    p = torch.sigmoid(out.gate_logits)
    by_hand = -(10.0 * target * torch.log(p) + (1 - target) * torch.log(1 - p))
    torch.testing.assert_close(out.gate_loss, by_hand[frames.bool()].mean())


def test_a_single_speaker_checkpoint_loads_into_a_multi_speaker_model_unchanged_and_then_learns_voices(
        model: Tacotron2ForTextToSpeech, tmp_path: Path) -> None:
    """speaker_embedding_dim > 0 adds a projected speaker vector to every encoder output; the
    projection starts at zero, so a single-speaker checkpoint speaks as before whatever the vector,
    and one optimizer step makes two speakers' outputs differ."""
    ids, mask, labels, frames = _batch()
    model.save_pretrained(tmp_path / "single")
    multi = Tacotron2ForTextToSpeech.from_pretrained(tmp_path / "single", speaker_embedding_dim=4).eval()
    assert torch.count_nonzero(multi.speaker_projection.weight) == 0
    assert torch.count_nonzero(multi.speaker_projection.bias) == 0
    speakers = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    torch.manual_seed(5)
    single_out = model(ids, mask, labels, frames)
    torch.manual_seed(5)
    multi_out = multi(ids, mask, labels, frames, speaker_embeddings=speakers)
    torch.testing.assert_close(multi_out.loss, single_out.loss)
    torch.testing.assert_close(multi_out.spectrogram, single_out.spectrogram)

    multi.train()
    optimizer = torch.optim.SGD([multi.speaker_projection.weight], lr=1.0)
    multi(ids, mask, labels, frames, speaker_embeddings=speakers).loss.backward()
    assert torch.count_nonzero(multi.speaker_projection.weight.grad) > 0, "a zero projection must still learn"
    optimizer.step()
    multi.eval()
    one, two = (multi.generate(ids[:1], mask[:1], max_decoder_steps=6, gate_threshold=2.0,
                               speaker_embeddings=speakers[i:i + 1]) for i in (0, 1))
    assert not torch.allclose(one.spectrogram, two.spectrogram)
    # the offset is per item: an item's memory is the same in a batch and alone
    batched = multi.encode(ids, mask, speakers)[0]
    alone = multi.encode(ids[:1], mask[:1], speakers[:1])[0]
    torch.testing.assert_close(batched[:1], alone, atol=1e-5, rtol=1e-4)


def test_a_speaker_vector_is_required_by_a_multi_speaker_model_and_refused_by_a_single_speaker_one(
        model: Tacotron2ForTextToSpeech) -> None:
    ids, mask, labels, frames = _batch()
    with pytest.raises(ValueError, match="single-speaker"):
        model(ids, mask, labels, frames, speaker_embeddings=torch.zeros(2, 4))
    multi = Tacotron2ForTextToSpeech(Tacotron2Config(**TINY, speaker_embedding_dim=4))
    with pytest.raises(ValueError, match="multi-speaker"):
        multi.generate(ids, mask, max_decoder_steps=3)
    with pytest.raises(ValueError, match="speaker_embedding_dim=-1"):
        Tacotron2Config(speaker_embedding_dim=-1)
