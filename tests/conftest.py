"""Shared fixtures: a small espeak-ng corpus and a tiny SpeechT5 base, in the real layouts.

The base is what `microsoft/speecht5_tts` looks like on disk (config.json, model.safetensors,
processor files) plus hf_vclone's speaker table, written by the same `save_pretrained` code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# librosa's pYIN, DTW and Griffin-Lim kernels are numba functions compiled on first use (pYIN about
# 30 s) and cached beside librosa in site-packages. In a fresh venv the two xdist workers and the
# training processes they launch compiled them at the same time and wrote the same cache files;
# a process that reads a half-written pair can die with SIGSEGV (numba issues 4807 and 10128), the
# likely cause of CI's `accelerate launch train.py` killed by signal 11 on 2026-12-02, after synthesis,
# while scoring with pYIN. Each worker, and the processes it launches one at a time, gets a cache of its own
# (set, not defaulted: a worker inherits the controller's environment). Set before anything imports
# numba, which reads it once; xdist names the worker before it loads this file.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "hf_vclone-numba"
                                        / os.environ["PYTEST_XDIST_WORKER"])
# A native crash in a process a test launches prints its Python stack into the test's output.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")

import pytest
import torch
from transformers import SpeechT5Config, SpeechT5ForTextToSpeech, VitsConfig, VitsModel

from hf_vclone.data.demo_corpus import BASE_VOICES, build_demo_corpus
from hf_vclone.data.formats.ljspeech import read_ljspeech
from hf_vclone.voice_io import VoiceMeta, save_voice
from hf_vclone.models.char_tokenizer import build_processor, build_vits_tokenizer
from hf_vclone.models.speakers import SpeakerTable, random_unit_vector
from hf_vclone.models.speecht5 import SpeechT5Voice

# Under pytest-xdist (`make test` runs `pytest -n auto`) each worker gets its share of the cores, and
# so do the processes it launches (OMP_NUM_THREADS is inherited): OpenMP threads oversubscribing the
# cores spin against each other and run several times slower than the same work one after another.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = _threads
    torch.set_num_threads(int(_threads))

TINY = dict(
    hidden_size=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
    encoder_ffn_dim=64, decoder_ffn_dim=64, reduction_factor=2, speech_decoder_prenet_units=32,
    speech_decoder_postnet_units=32, speech_decoder_postnet_layers=2, speaker_embedding_dim=16,
    encoder_layerdrop=0.0, decoder_layerdrop=0.0, max_speech_positions=1000, max_text_positions=200,
)

# A VITS with every part of facebook/mms-tts-eng (stochastic duration predictor, flows, WaveNet
# posterior encoder, HiFi-GAN decoder), a few thousand parameters each; hop 4*4*4 = 64 samples.
TINY_VITS = dict(
    hidden_size=16, num_hidden_layers=1, num_attention_heads=2, window_size=2, ffn_dim=32, flow_size=8,
    spectrogram_bins=65, upsample_initial_channel=16, upsample_rates=[4, 4, 4], upsample_kernel_sizes=[8, 8, 8],
    resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]], prior_encoder_num_flows=2,
    prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=2, duration_predictor_filter_channels=16,
    duration_predictor_num_flows=2, depth_separable_num_layers=2, sampling_rate=16000,
)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five base voices x 6 clips and the held-out target x 10 clips."""
    return build_demo_corpus(tmp_path_factory.mktemp("corpus"), clips_per_base_voice=6, target_clips=10)


@pytest.fixture(scope="session")
def tiny_base(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_base")
    texts = [r["text"] for r in read_ljspeech(corpus)]
    processor = build_processor(texts, directory / "tokenizer")
    tok = processor.tokenizer
    torch.manual_seed(0)
    config = SpeechT5Config(**TINY, vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    names = sorted(BASE_VOICES)
    table = SpeakerTable(names, torch.stack([random_unit_vector(n, 16) for n in names]), trainable=False)
    voice = SpeechT5Voice(SpeechT5ForTextToSpeech(config), table)
    return save_voice(voice, processor, directory, VoiceMeta("speecht5", None, "full"))


@pytest.fixture(scope="session")
def tiny_vits_base(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny VitsModel + character VitsTokenizer, saved as facebook/mms-tts-eng is laid out."""
    directory = tmp_path_factory.mktemp("tiny_vits_base")
    tokenizer = build_vits_tokenizer([r["text"] for r in read_ljspeech(corpus)], directory)
    torch.manual_seed(0)
    VitsModel(VitsConfig(**TINY_VITS, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# Tacotron 2 with every part of the published model, narrow; 16 kHz, hop 256, 20 mel bands.
TINY_TACOTRON2 = dict(
    symbols_embedding_dim=16, encoder_embedding_dim=16, encoder_n_convolutions=2, attention_rnn_dim=24,
    decoder_rnn_dim=24, prenet_dim=8, attention_dim=8, attention_location_n_filters=4,
    attention_location_kernel_size=5, postnet_embedding_dim=12, postnet_n_convolutions=3, n_mel_channels=20,
    max_decoder_steps=60, sampling_rate=16000, filter_length=512, win_length=512, hop_length=256,
)


@pytest.fixture(scope="session")
def tiny_tacotron2_base(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny Tacotron 2 + character tokenizer (no blanks), saved as `save_pretrained` writes them."""
    from hf_vclone.models.tacotron2 import Tacotron2Config, Tacotron2ForTextToSpeech

    directory = tmp_path_factory.mktemp("tiny_tacotron2_base")
    tokenizer = build_vits_tokenizer([r["text"] for r in read_ljspeech(corpus)], directory, add_blank=False)
    torch.manual_seed(0)
    config = Tacotron2Config(**TINY_TACOTRON2, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    Tacotron2ForTextToSpeech(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def launch_failure(stderr: str, tail: int = 4000) -> str:
    """What a failed launch printed, for an assertion message: the tail, and before it the first native
    crash's Python stacks (faulthandler's "Fatal Python error" block, set on above), which a long
    list of extension modules after it would push out of the tail (CI, 2026-12-04: an FSDP rank's
    SIGABRT showed only that list)."""
    start = stderr.find("Fatal Python error")
    crash = stderr[start:start + 6000] + "\n...\n" if 0 <= start < len(stderr) - tail else ""
    return crash + stderr[-tail:]


def tiny_recipe(corpus: Path, base: Path, out: Path, **sections) -> dict:
    """A recipe dict that fine-tunes the tiny base to the target voice in a few seconds."""
    recipe = {
        "model": {"name_or_path": str(base)},
        "speaker": {"mode": "learned"},
        "data": {"path": str(corpus), "speaker": "us_f5", "eval_size": 2},
        "strategy": {"name": "full"},
        # asr_model null: Whisper adds seconds per sentence; tests that read CER name it
        # (test_end_to_end's launcher test, test_intelligibility.py)
        "evaluation": {"num_samples": 2, "minlenratio": 0.5, "maxlenratio": 2.0, "asr_model": None},
        "output": {"dir": str(out)},
        "training": {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                     "save_strategy": "no", "use_cpu": True, "logging_steps": 1, "seed": 0},
    }
    for key, value in sections.items():
        recipe[key] = {**recipe.get(key, {}), **value}
    return recipe
