"""Speaker similarity: the committed offline encoder and the WavLMForXVector path behave as an instrument."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector, WavLMModel

from hf_vclone.data.demo_corpus import build_demo_corpus
from hf_vclone.errors import UserError
from hf_vclone.speaker_encoder_model import EncoderConfig, TDNNSpeakerEncoder
from hf_vclone.speaker_similarity import cosine, equal_error_rate, load_speaker_encoder

TINY_WAVLM = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16, 16, 16),
    conv_stride=(5, 4, 4), conv_kernel=(10, 4, 4), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
    tdnn_dim=(16, 16), tdnn_kernel=(3, 1), tdnn_dilation=(1, 1), xvector_output_dim=24, num_buckets=16,
    max_bucket_distance=32,
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[np.ndarray, int]]]:
    """voice -> its clips (wave, rate), 3 per demo voice."""
    root = build_demo_corpus(tmp_path_factory.mktemp("spk_corpus"), clips_per_base_voice=3, target_clips=3)
    out: dict[str, list[tuple[np.ndarray, int]]] = {}
    for wav in sorted(root.glob("*/wavs/*.wav")):
        out.setdefault(wav.parent.parent.name, []).append(sf.read(str(wav), dtype="float32"))
    return out


@pytest.fixture(scope="module")
def offline():
    return load_speaker_encoder("offline")


def _tiny_wavlm(directory: Path, model_cls=WavLMForXVector) -> Path:
    torch.manual_seed(0)
    model_cls(WavLMConfig(**TINY_WAVLM)).save_pretrained(directory)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True).save_pretrained(directory)
    return directory


def test_default_and_offline_name_load_the_committed_encoder(offline) -> None:
    assert offline.name == "offline-tdnn"
    assert load_speaker_encoder(None).name == "offline-tdnn"


def test_same_voice_scores_higher_than_any_other_voice(offline, clips) -> None:
    emb = {voice: [offline.embed(w, r) for w, r in takes] for voice, takes in clips.items()}
    for voice in ("us_m1", "gb_m3", "us_f5"):
        same = cosine(emb[voice][0], emb[voice][1])
        others = [cosine(emb[voice][0], e) for other, embs in emb.items() if other != voice for e in embs]
        assert same > max(others), (voice, same, max(others))


def test_clip_with_itself_scores_one_and_embeddings_are_unit_norm(offline, clips) -> None:
    wave, rate = clips["us_f2"][0]
    emb = offline.embed(wave, rate)
    assert emb.ndim == 1 and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
    assert cosine(emb, offline.embed(wave, rate)) == pytest.approx(1.0, abs=1e-6)


def test_too_short_clip_is_refused_with_its_length(offline) -> None:
    with pytest.raises(ValueError, match="too short to embed: 0.050 s"):
        offline.embed(np.zeros(800, np.float32), 16000)


def test_sampling_rate_is_handled_by_resampling(offline, clips) -> None:
    wave, rate = clips["sc_m2"][0]
    at_44k = soxr.resample(wave, rate, 44100).astype(np.float32)
    assert cosine(offline.embed(wave, rate), offline.embed(at_44k, 44100)) > 0.98


def test_equal_error_rate_is_zero_when_scores_separate_and_one_when_inverted() -> None:
    scores, same = np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False])
    assert equal_error_rate(scores, same) == 0.0
    assert equal_error_rate(-scores, same) == 1.0


def test_encoder_round_trips_through_safetensors_without_pickle(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TDNNSpeakerEncoder(EncoderConfig(channels=8, embedding_dim=16)).eval()
    model.save(tmp_path / "enc")
    assert sorted(p.name for p in (tmp_path / "enc").iterdir()) == ["config.json", "model.safetensors"]
    mel = torch.randn(1, 50, 80)
    assert torch.equal(model(mel), TDNNSpeakerEncoder.load(tmp_path / "enc")(mel))
    assert load_speaker_encoder(str(tmp_path / "enc")).name == f"offline-tdnn:{tmp_path / 'enc'}"


def test_committed_weights_are_small() -> None:
    from hf_vclone.speaker_similarity import OFFLINE_DIR

    assert (OFFLINE_DIR / "model.safetensors").stat().st_size < 2 * 1024 * 1024
    assert (OFFLINE_DIR / "README.md").is_file()


def test_wavlm_xvector_folder_gives_a_unit_norm_embedding_named_after_it(tmp_path: Path, clips) -> None:
    path = str(_tiny_wavlm(tmp_path / "wavlm"))
    encoder = load_speaker_encoder(path)
    assert encoder.name == f"wavlm-xvector:{path}"
    wave, rate = clips["us_m1"][0]  # 22.05 kHz in, resampled to the extractor's 16 kHz
    emb = encoder.embed(wave, rate)
    assert emb.shape == (TINY_WAVLM["xvector_output_dim"],)
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)


def test_wavlm_without_xvector_head_is_refused(tmp_path: Path) -> None:
    # It would load with a randomly initialised head and score noise.
    path = str(_tiny_wavlm(tmp_path / "wavlm_base", WavLMModel))
    with pytest.raises(UserError, match="not a WavLMForXVector"):
        load_speaker_encoder(path)


def test_bad_name_raises_user_error_naming_the_setting_and_fix(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"evaluation\.speaker_encoder.*'offline'"):
        load_speaker_encoder(str(tmp_path / "no_such_model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"my\.key.*microsoft/wavlm-base-plus-sv"):
        load_speaker_encoder(str(tmp_path / "empty"), key="my.key")
