"""vits.alignment espeak: libespeak-ng's phoneme timings as token windows for the alignment search.

The windows are checked against the audio itself: fricatives (s, ʃ) are noise above 4 kHz and
vowels are not, so windows placed on the right frames show it, and windows shifted by a few frames
(a wrong trim offset, a wrong rate) do not.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
import torch

from hf_vclone.config.loading import recipe_from_dict
from hf_vclone.data.audio import ClipError, clean
from hf_vclone.data.demo_corpus import BASE_VOICES
from hf_vclone.errors import UserError
from hf_vclone.models.char_tokenizer import build_vits_tokenizer
from hf_vclone.models.vits import VitsBackend, VitsCollator, outside_window_penalty
from hf_vclone.models.vits_section import VitsConfig
from hf_vclone.vits.alignment import maximum_path
from hf_vclone.vits.espeak_timing import (EspeakAligner, espeak_arguments, speak, symbol_spans, token_durations,
                                          token_windows, voice_arguments)

RATE, HOP = 16000, 256
SENTENCES = ["The busy doctor sold a small glass of fresh soup this morning.",
             "Six sisters passed the station, singing softly."]


def _espeak_clip(tmp_path, text: str, args: list[str]) -> np.ndarray:
    """The clip as the demo corpus makes it (`espeak-ng -w`) and data preparation cleans it."""
    out = tmp_path / "clip.wav"
    subprocess.run(["espeak-ng", *args, "-w", str(out), text], check=True, capture_output=True)
    wave, rate = sf.read(out, dtype="float32")
    return clean(wave, rate, RATE, -23.0, 40.0)


def _high_band_share(wave: np.ndarray) -> np.ndarray:
    """Per frame (hop 256): the share of the energy above 4 kHz."""
    frames = len(wave) // HOP
    spec = np.abs(np.stack([np.fft.rfft(np.hanning(1024) * np.pad(wave, (384, 1024))[f * HOP: f * HOP + 1024])
                            for f in range(frames)])) ** 2
    high = spec[:, 1024 * 4000 // RATE:].sum(1)
    return high / (spec.sum(1) + 1e-12)


def _separation(tokens: list[str], windows: list[list[int]], share: np.ndarray, shift: int = 0) -> float:
    """Mean high-band share in fricative windows minus that in vowel windows (cores, slack removed)."""
    def mean_in(symbols: set[str]) -> float:
        values = [share[max(0, lo + 1 + shift): max(0, hi + shift)].mean() for t, (lo, hi) in zip(tokens, windows)
                  if t in symbols and hi - lo >= 2 and 0 <= lo + 1 + shift < hi + shift <= len(share)]
        return float(np.mean(values))
    return mean_in({"s", "ʃ"}) - mean_in({"ə", "æ", "ɛ", "ɪ", "i", "ɑ", "ʌ", "ɔ"})


def test_library_speech_equals_the_command_sentence_after_sentence(tmp_path) -> None:
    """The library keeps state between utterances in one process (the second sentence used to differ
    from the 64th sample on), and a forked child inherits it; each call must match `espeak-ng -w`,
    which the corpus is made with, even after this process has used the library itself."""
    from hf_vclone.vits.espeak_child import speak_here

    speak_here("Another sentence, in another voice, first.", "en-gb-x-rp+f4", 65, 160)
    args = BASE_VOICES["us_f2"]
    for text in SENTENCES:
        wave, rate, events = speak(text, *voice_arguments(args))
        out = tmp_path / "cli.wav"
        subprocess.run(["espeak-ng", *args, "-w", str(out), text], check=True, capture_output=True)
        cli, cli_rate = sf.read(out, dtype="float32")
        assert rate == cli_rate
        assert np.array_equal(cli[: len(wave)], wave), text
        starts = [s for s, _ in events]
        assert starts == sorted(starts) and 0 <= starts[0] and starts[-1] <= len(wave)
        assert sum(1 for _, p in events if p) >= 30


@pytest.mark.parametrize("voice", ["us_f2", "gb_m3"])
def test_windows_put_fricatives_on_noise_and_a_shift_breaks_it(tmp_path, voice: str) -> None:
    text = SENTENCES[0]
    wave = _espeak_clip(tmp_path, text, BASE_VOICES[voice])
    tokenizer = build_vits_tokenizer([text], tmp_path / "tok", add_blank=True, phonemize=True)
    ids = tokenizer(text)["input_ids"]
    frames = len(wave) // HOP
    windows = EspeakAligner(BASE_VOICES[voice], RATE, HOP).token_windows(tokenizer, text, wave, frames, len(ids))
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(windows) == len(ids)
    assert all(0 <= lo <= hi < frames for lo, hi in windows)
    assert [w[0] for w in windows] == sorted(w[0] for w in windows)  # monotonic, as the search is
    assert windows[0][0] == 0 and windows[-1][1] == frames - 1
    share = _high_band_share(wave)
    right = _separation(tokens, windows, share)
    assert right > 0.4, right  # measured 0.62 (us_f2), 0.63 (gb_m3)
    for shift in (-5, 5):  # a wrong offset of 80 ms loses most of it
        assert _separation(tokens, windows, share, shift) < right - 0.3, shift  # measured 0.13 at most


def test_fixed_durations_leave_the_search_one_path_and_put_fricatives_on_noise(tmp_path) -> None:
    """vits.alignment espeak_durations: the windows tile the clip one token after another, so the
    search returns exactly them whatever the likelihood, and the fricatives' frames are noise."""
    text = SENTENCES[1]
    wave = _espeak_clip(tmp_path, text, BASE_VOICES["us_f2"])
    tokenizer = build_vits_tokenizer([text], tmp_path / "tok", add_blank=True, phonemize=True)
    ids = tokenizer(text)["input_ids"]
    frames = len(wave) // HOP
    aligner = EspeakAligner(BASE_VOICES["us_f2"], RATE, HOP, fixed=True)
    windows = aligner.token_windows(tokenizer, text, wave, frames, len(ids))
    assert windows[0][0] == 0 and windows[-1][1] == frames - 1
    assert all(hi >= lo and nxt[0] == hi + 1 for (lo, hi), nxt in zip(windows, windows[1:] + [[frames, 0]]))
    value = torch.randn(1, frames, len(ids), generator=torch.Generator().manual_seed(0)) * 50
    path = maximum_path(value + outside_window_penalty(torch.tensor([windows]), frames),
                        torch.ones(1, frames, len(ids), dtype=torch.bool))
    assert path[0].sum(0).tolist() == [hi - lo + 1 for lo, hi in windows]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert _separation(tokens, [[lo - 1, hi + 1] for lo, hi in windows], _high_band_share(wave)) > 0.4


def test_a_clip_another_voice_spoke_is_refused_by_name(tmp_path) -> None:
    text = SENTENCES[1]
    wave = _espeak_clip(tmp_path, text, BASE_VOICES["gb_m3"])
    tokenizer = build_vits_tokenizer([text], tmp_path / "tok", add_blank=False, phonemize=True)
    ids = tokenizer(text)["input_ids"]
    with pytest.raises(ClipError, match="not espeak-ng's en-us\\+f2.*vits.espeak_voice"):
        EspeakAligner(BASE_VOICES["us_f2"], RATE, HOP).token_windows(tokenizer, text, wave, len(wave) // HOP, len(ids))


def test_symbols_match_event_phonemes_character_by_character() -> None:
    events = [(0.0, 0.1, "ð"), (0.1, 0.2, "ə"), (0.2, 0.25, "p"), (0.25, 0.4, "aɪ"), (0.4, 0.5, "")]
    spans = symbol_spans("ðə pˈaɪ.", events)
    assert spans == [(0.0, 0.1), (0.1, 0.2), None, (0.2, 0.25), None, (0.25, 0.4), (0.25, 0.4), None]


def test_window_arithmetic_with_blanks_offset_and_slack() -> None:
    # two phonemes at 0.1-0.2 s and 0.3-0.4 s; 10 ms frames; the trim cut the first 0.05 s
    spans = [(0.1, 0.2), None, (0.3, 0.4)]
    windows = token_windows(spans, add_blank=True, frames=40, frame_seconds=0.01, offset_seconds=0.05, slack=1)
    # tokens: blank, a, blank, (none), blank, b, blank
    a, b = [4, 15], [24, 35]  # frames 5..14 and 25..34, +- 1
    assert windows == [[0, a[1]], a, [a[0], b[1]], [a[0], b[1]], [a[0], b[1]], b, [b[0], 39]]
    clipped = token_windows([(0.0, 0.5)], add_blank=False, frames=10, frame_seconds=0.01, offset_seconds=0.0)
    assert clipped == [[0, 9]]


def test_duration_rule_arithmetic_with_blanks_offset_shared_phonemes_and_pauses() -> None:
    # stress mark (unmatched), a at 0.1-0.2 s, b at 0.2-0.35 s; 10 ms frames; the trim cut 0.05 s
    spans = [None, (0.1, 0.2), (0.2, 0.35)]
    # tokens: blank, stress, blank share the 5 leading frames (ends 1.7, 3.3, 5 -> 2, 3, 5); a 5..15;
    # the blank after it wants none and gets one frame, taken from b (16..30); the last blank the tail
    assert token_durations(spans, True, 40, 0.01, 0.05) == [2, 1, 2, 10, 1, 14, 10]
    assert token_durations(spans, False, 40, 0.01, 0.05) == [5, 10, 25]
    # a two-symbol phoneme (aɪ) splits its 10 frames evenly (less the blank between its symbols);
    # the pause 0.2-0.3 s goes to the unmatched tokens in it (blank, comma, blank: 10 frames)
    shared = [(0.1, 0.2), (0.1, 0.2), None, (0.3, 0.4)]
    assert token_durations(shared, True, 40, 0.01, 0.05) == [5, 5, 1, 4, 3, 4, 3, 10, 5]
    with pytest.raises(ClipError, match="espeak_durations: 6 frames for 7 tokens"):
        token_durations(spans, True, 6, 0.01, 0.05)


def test_duration_rule_always_sums_to_the_clip_with_a_frame_for_every_token() -> None:
    gen = np.random.default_rng(0)
    for _ in range(200):
        n, frames = int(gen.integers(1, 30)), int(gen.integers(60, 200))
        edges = np.sort(gen.uniform(0.0, frames * 0.01, size=2 * n))
        spans = [None if gen.random() < 0.3 else (float(edges[2 * i]), float(edges[2 * i + 1])) for i in range(n)]
        for add_blank in (True, False):
            durations = token_durations(spans, add_blank, frames, 0.01, 0.0)
            assert len(durations) == (2 * n + 1 if add_blank else n)
            assert sum(durations) == frames and min(durations) >= 1
            bounds = np.cumsum(durations)
            tokens = [t for s in spans for t in ([None, s] if add_blank else [s])]
            # a matched token ends at its phoneme's end, moved at most one frame per token before it
            # (each keeps a frame) or after it (each needs one left); the last takes the tail
            for k, span in enumerate(tokens[: len(durations) - 1]):
                if span is not None:
                    assert -(len(durations) - k) <= bounds[k] - span[1] * 100 <= k + 1, (k, spans)


def test_the_search_stays_inside_the_windows_and_the_collator_pads_them() -> None:
    gen = torch.Generator().manual_seed(0)
    windows = [[0, 3], [2, 6], [5, 9], [8, 11]]
    rows = [{"input_ids": [1, 2, 3, 4], "labels": np.zeros((12, 2)), "waveform": np.zeros(12 * 4), "speaker_id": 0,
             "token_windows": windows},
            {"input_ids": [1, 2], "labels": np.zeros((5, 2)), "waveform": np.zeros(5 * 4), "speaker_id": 0,
             "token_windows": [[0, 2], [2, 4]]}]
    batch = VitsCollator(pad_token_id=0, hop=4)(rows)
    assert batch["token_windows"].shape == (2, 4, 2)
    assert batch["token_windows"][1, 2:].tolist() == [[0, 11], [0, 11]]  # padding tokens: any frame
    for _ in range(10):
        value = torch.randn(2, 12, 4, generator=gen) * 5
        mask = torch.zeros(2, 12, 4, dtype=torch.bool)
        mask[0] = True
        mask[1, :5, :2] = True
        path = maximum_path(value + outside_window_penalty(batch["token_windows"], 12), mask)
        for b, n_frames in ((0, 12), (1, 5)):
            for frame, token in enumerate(path[b, :n_frames].argmax(1).tolist()):
                lo, hi = batch["token_windows"][b, token].tolist()
                assert lo <= frame <= hi


@pytest.mark.parametrize("alignment", ["espeak", "espeak_durations"])
def test_a_letters_tokenizer_is_refused_by_the_setting_that_needs_phonemes(tmp_path, alignment: str) -> None:
    tokenizer = build_vits_tokenizer([SENTENCES[0]], tmp_path / "tok", add_blank=True, phonemize=False)
    backend = VitsBackend(VitsConfig(alignment=alignment, espeak_voice="us_f2"))
    with pytest.raises(UserError, match=f"vits.alignment {alignment}: the tokenizer reads letters.*vits.phonemize"):
        backend._espeak_aligner(tokenizer, RATE, HOP)
    assert VitsBackend(VitsConfig())._espeak_aligner(tokenizer, RATE, HOP) is None  # the search needs no timings


def test_voice_settings_are_checked() -> None:
    assert espeak_arguments("us_f2") == BASE_VOICES["us_f2"]
    assert voice_arguments(espeak_arguments("-v en-gb+m3 -p 30 -s 150")) == ("en-gb+m3", 30, 150)
    with pytest.raises(UserError, match="vits.espeak_voice.*neither a demo corpus voice"):
        espeak_arguments("-v en-us -q 3")
    with pytest.raises(UserError, match="vits.alignment espeak needs vits.espeak_voice"):
        recipe_from_dict({"model": {"type": "vits", "init_config": {}, "processor": "build"}, "data": {"path": "x"},
                     "vits": {"phonemize": True, "alignment": "espeak"}})
    with pytest.raises(UserError, match="vits.alignment espeak_durations needs vits.espeak_voice"):
        recipe_from_dict({"model": {"type": "vits", "init_config": {}, "processor": "build"}, "data": {"path": "x"},
                     "vits": {"phonemize": True, "alignment": "espeak_durations"}})
    with pytest.raises(UserError, match="vits.alignment"):
        recipe_from_dict({"model": {"type": "vits"}, "data": {"path": "x"}, "vits": {"alignment": "mfa"}})
