"""`vits.calibrate_length`: the speaking rate measured on the training clips. The frame count it
solves for must be the one VitsModel's own inference speaks, and the rate it finds must make the
voice speak the asked length."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from transformers import VitsModel

from hf_vclone.config import recipe_from_dict
from hf_vclone.export import merge_voice, read_voice
from hf_vclone.finetune import run
from hf_vclone.vits.pace import calibrate_speaking_rate, matching_rate, predicted_log_durations, spoken_frames
from test_vits_training import vits_recipe

TEXTS = [[3, 5, 7, 9, 11, 4], [2, 8, 6, 10], [12, 3, 3, 7, 9, 5, 4, 2, 6]]


@pytest.fixture()
def tiny_vits(tiny_vits_base: Path) -> VitsModel:
    model = VitsModel.from_pretrained(tiny_vits_base).eval()
    model.noise_scale_duration = 0.0  # inference draws no duration noise: the count must be exact
    return model


def frames_vits_speaks(model: VitsModel, texts: list[list[int]], rate: float) -> int:
    """VitsModel's own inference, one text at a time: its waveform length over the decoder's upsampling."""
    hop = math.prod(model.config.upsample_rates)
    with torch.no_grad():
        return sum(int(model(input_ids=torch.tensor([t]), speaking_rate=rate).sequence_lengths[0]) // hop for t in texts)


@pytest.mark.parametrize("rate", [1.0, 0.37, 2.5])
def test_spoken_frames_are_what_vits_inference_speaks(tiny_vits: VitsModel, rate: float) -> None:
    log_durations = predicted_log_durations(tiny_vits, TEXTS)  # batched and padded: padding must not leak in
    assert [len(d) for d in log_durations] == [len(t) for t in TEXTS]
    assert spoken_frames(log_durations, rate) == frames_vits_speaks(tiny_vits, TEXTS, rate)


def test_the_matching_rate_by_hand() -> None:
    # 10 tokens of 2 frames each: ceil(2 / rate) = 4 frames per token for rates in [0.5, 2/3)
    log_durations = [torch.full((10,), math.log(2.0))]
    rate = matching_rate(log_durations, 40)
    assert 0.5 <= rate < 2 / 3 and spoken_frames(log_durations, rate) == 40
    assert spoken_frames(log_durations, matching_rate(log_durations, 20)) == 20  # rate 1 or just above
    assert matching_rate(log_durations, 10) == 1e3  # one frame per token is the least it can speak


def test_calibration_makes_the_voice_speak_the_asked_length(tiny_vits: VitsModel) -> None:
    recorded = [37, 21, 55]
    for length in (1.0, 1.3):
        measured = calibrate_speaking_rate(tiny_vits, TEXTS, recorded, length)
        assert tiny_vits.speaking_rate == tiny_vits.config.speaking_rate == measured["speaking_rate"]
        spoken = frames_vits_speaks(tiny_vits, TEXTS, tiny_vits.speaking_rate)  # the model's own rate, as it speaks
        assert abs(spoken - length * sum(recorded)) <= 0.03 * length * sum(recorded), (length, spoken)
        assert measured["length_after"] == pytest.approx(spoken / sum(recorded))


def test_calibration_measures_the_voice_as_it_speaks_even_in_training_mode(tiny_vits: VitsModel) -> None:
    # the duration predictor's dropout (0.5 in VITS) would change every duration a training-mode model predicts
    expected = calibrate_speaking_rate(tiny_vits, TEXTS, [37, 21, 55])["speaking_rate"]
    tiny_vits.train()
    assert calibrate_speaking_rate(tiny_vits, TEXTS, [37, 21, 55])["speaking_rate"] == expected
    assert tiny_vits.training and tiny_vits.duration_predictor.training  # the mode it was in is given back


def test_a_noisy_duration_predictor_gives_the_same_rate_twice_and_leaves_the_global_seed(tiny_vits: VitsModel) -> None:
    tiny_vits.noise_scale_duration = 0.8
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = calibrate_speaking_rate(tiny_vits, TEXTS, [37, 21, 55])["speaking_rate"]
    assert torch.equal(torch.rand(1), expected_next)  # calibrating did not consume the caller's random stream
    assert calibrate_speaking_rate(tiny_vits, TEXTS, [37, 21, 55])["speaking_rate"] == first


def test_a_run_with_calibrate_length_saves_the_rate_it_measured(corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    raw = vits_recipe(corpus, tiny_vits_base, tmp_path / "out", max_steps=1)
    raw["vits"]["calibrate_length"] = 1.2
    run(recipe_from_dict(raw))
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    pace = json.loads((tmp_path / "out" / "vclone.json").read_text())["pace"]
    assert config["speaking_rate"] == pytest.approx(pace["speaking_rate"]) and config["speaking_rate"] != 1.0
    assert pace["calibrate_length"] == 1.2 and pace["length_after"] == pytest.approx(1.2, abs=0.05)
    assert pace["clips"] > 0 and pace["recorded_frames"] > 0


def test_a_lora_voice_keeps_its_measured_rate_when_read_and_merged(corpus: Path, tiny_vits_base: Path,
                                                                    tmp_path: Path) -> None:
    raw = vits_recipe(corpus, tiny_vits_base, tmp_path / "out", "lora", max_steps=1)
    raw["vits"]["calibrate_length"] = 1.2
    run(recipe_from_dict(raw))
    assert not (tmp_path / "out" / "config.json").exists()  # an adapter: the rate lives in vclone.json only
    rate = json.loads((tmp_path / "out" / "vclone.json").read_text())["pace"]["speaking_rate"]
    voice, _, _ = read_voice(tmp_path / "out")
    core = voice.tts.get_base_model()
    assert core.speaking_rate == core.config.speaking_rate == rate != 1.0
    merge_voice(tmp_path / "out", tmp_path / "merged")
    assert json.loads((tmp_path / "merged" / "config.json").read_text())["speaking_rate"] == pytest.approx(rate)
