"""`hf-vclone convert tacotron2 CHECKPOINT OUT`: a published Tacotron 2 checkpoint as a
`save_pretrained` folder (safetensors weights, config.json, a tokenizer with the checkpoint's own
symbol table) that `model.name_or_path` and `from_pretrained` read.

Sources, all read with `torch.load(..., weights_only=True)` (a checkpoint cannot run code):
- NVIDIA DeepLearningExamples / torch.hub (`nvidia_tacotron2pyt_*.pt`): {"state_dict", "config"},
  keys under `module.` (saved from DDP);
- NVIDIA/tacotron2's `tacotron2_statedict.pt`: {"state_dict", "optimizer", "iteration", ...}, from
  PyTorch 0.4, so its BatchNorms have no `num_batches_tracked` (filled with 0, as PyTorch does);
- speechbrain's `tts-tacotron2-ljspeech` `model.ckpt`: the state dict itself.
All three use NVIDIA's parameter names, which Tacotron2ForTextToSpeech keeps, so converting is a
prefix strip. The architecture is read from the tensors' shapes (widths, kernel sizes, layer
counts), then every key and shape is checked against the model it builds; what does not fit is named.

The tokenizer is NVIDIA's English symbol table (148 ids: pad, "-", punctuation, letters, ARPAbet),
with the upper-case letters left out of vocab.json so that text is lower-cased before lookup, as
NVIDIA's `english_cleaners` do; numbers and abbreviations are spelled out by data.normalize_text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from transformers import VitsTokenizer

from ...errors import UserError
from ..loading import read_torch_checkpoint, state_dict_problems
from .configuration import Tacotron2Config
from .modeling import Tacotron2ForTextToSpeech

# NVIDIA's symbol table (its text/symbols.py), in its order: the ids its embedding was trained on.
PAD, SPECIAL, PUNCTUATION = "_", "-", "!'(),.:;? "
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
_CONSONANTS = ("B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH", "T",
               "TH", "V", "W", "Y", "Z", "ZH")
ARPABET = sorted([v + s for v in _VOWELS for s in ("", "0", "1", "2")] + list(_CONSONANTS))  # CMUdict's 84
SYMBOLS = [PAD, SPECIAL, *PUNCTUATION, *LETTERS, *("@" + p for p in ARPABET)]


def nvidia_vocab() -> dict[str, int]:
    """symbol -> id for the characters text can contain (lower case; ARPAbet is kept for the ids' sake)."""
    return {s: i for i, s in enumerate(SYMBOLS) if not s.isupper() or s.startswith("@")}


def read_tacotron2_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict under our names, what the file was read as)."""
    raw = read_torch_checkpoint(path, "convert tacotron2", "a Tacotron 2 checkpoint (.pt / .pth / .ckpt)")
    where = f"convert: {path}"
    if isinstance(raw.get("state_dict"), dict):
        state, source = raw["state_dict"], "NVIDIA checkpoint (state_dict)"
    elif isinstance(raw.get("model"), dict):
        state, source = raw["model"], "checkpoint (model)"
    else:
        state, source = raw, "state dict (speechbrain model.ckpt layout)"
    state = {re.sub(r"^(module\.|model\.)", "", k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if "embedding.weight" not in state:
        raise UserError(f"{where}: no embedding.weight among its {len(state)} tensors "
                        f"(first: {', '.join(list(state)[:3]) or 'none'}); is this a Tacotron 2 checkpoint?")
    return state, source


def config_from_shapes(state: dict[str, torch.Tensor], **overrides) -> Tacotron2Config:
    """The architecture the tensors were trained with: every width, kernel and layer count."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise UserError(f"convert: the checkpoint has no {key}; it is not a complete Tacotron 2")
        return tuple(state[key].shape)

    def count(prefix: str) -> int:
        return len({int(m.group(1)) for k in state if (m := re.match(rf"{re.escape(prefix)}(\d+)\.", k))})

    vocab, width = shape("embedding.weight")
    location = shape("decoder.attention_layer.location_layer.location_conv.conv.weight")
    postnet = shape("postnet.convolutions.0.0.conv.weight")
    frames_per_step = shape("decoder.gate_layer.linear_layer.weight")[0]  # one gate per frame of a step
    return Tacotron2Config(**{
        "vocab_size": vocab, "symbols_embedding_dim": width, "encoder_embedding_dim": width,
        "encoder_n_convolutions": count("encoder.convolutions."),
        "encoder_kernel_size": shape("encoder.convolutions.0.0.conv.weight")[2],
        "n_mel_channels": shape("decoder.linear_projection.linear_layer.weight")[0] // frames_per_step,
        "n_frames_per_step": frames_per_step,
        "attention_rnn_dim": shape("decoder.attention_rnn.weight_hh")[1],
        "decoder_rnn_dim": shape("decoder.decoder_rnn.weight_hh")[1],
        "prenet_dim": shape("decoder.prenet.layers.0.linear_layer.weight")[0],
        "attention_dim": shape("decoder.attention_layer.query_layer.linear_layer.weight")[0],
        "attention_location_n_filters": location[0], "attention_location_kernel_size": location[2],
        "postnet_embedding_dim": postnet[0], "postnet_kernel_size": postnet[2],
        "postnet_n_convolutions": count("postnet.convolutions."),
        **overrides,
    })


def convert_tacotron2(path: str | Path, out: str | Path, sampling_rate: int = 22050) -> Path:
    """Write OUT as a save_pretrained folder; returns OUT."""
    state, source = read_tacotron2_checkpoint(path)
    config = config_from_shapes(state, sampling_rate=sampling_rate)
    model = Tacotron2ForTextToSpeech(config)
    target = model.state_dict()
    for key in target:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)  # PyTorch 0.4 checkpoints predate it
    problems = state_dict_problems(state, target)
    if problems:
        raise UserError(f"convert: {path} ({source}) does not fit Tacotron 2: " + " | ".join(problems))
    model.load_state_dict({k: state[k].to(target[k].dtype) for k in target})
    out = Path(out)
    model.save_pretrained(out)
    if config.vocab_size == len(SYMBOLS):
        (out / "vocab.json").write_text(json.dumps(nvidia_vocab(), ensure_ascii=False), encoding="utf-8")
        VitsTokenizer(vocab_file=str(out / "vocab.json"), pad_token=PAD, unk_token=PAD, add_blank=False,
                      normalize=True, phonemize=False).save_pretrained(out)
    return out
