"""The base that `make quickstart` fine-tunes speaks, in each voice it knows: read through the quickstart
recipe itself, it says sentences no voice trained on well enough for Whisper to transcribe them near the
floor of that voice's real recordings. The old SpeechT5 quickstart base (a drone at the right pitch, CER about 0.8)
passed MCD, F0 and speaker similarity and would fail this."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hf_vclone.config import load_recipe
from hf_vclone.data.demo_corpus import BASE_VOICES
from hf_vclone.intelligibility import error_rates, transcribe
from hf_vclone.synthesize import load_voice

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = 4


def espeak(voice: str, text: str, path: Path) -> tuple[np.ndarray, int]:
    subprocess.run(["espeak-ng", *BASE_VOICES[voice], "-w", str(path), text], check=True, capture_output=True)
    wave, rate = sf.read(str(path), dtype="float32")
    return wave, rate


@pytest.mark.slow
def test_the_quickstart_base_reads_sentences_no_voice_trained_on_in_each_of_its_voices(tmp_path: Path) -> None:
    recipe = load_recipe(ROOT / "recipes" / "quickstart.yaml")
    voice = load_voice(ROOT / recipe.model.name_or_path)
    texts = list(recipe.evaluation.test_sentences[:SENTENCES])  # never in any demo corpus
    assert len(texts) == SENTENCES
    speakers = voice.voice.speakers.names
    assert set(speakers) <= set(BASE_VOICES), f"the base knows voices espeak-ng cannot render here: {speakers}"
    rate, failures = voice.sampling_rate, []
    for speaker in speakers:
        spoken = [voice.synthesize(text, speaker=speaker)[0] for text in texts]
        real = [espeak(speaker, text, tmp_path / f"{speaker}_{i}.wav") for i, text in enumerate(texts)]
        heard = transcribe("whisper-base", spoken, rate)
        base_cer = error_rates(heard, texts, "cer")[0]
        floor = error_rates(transcribe("whisper-base", [w for w, _ in real], real[0][1]), texts, "cer")[0]
        lengths = [len(w) / rate for w in spoken]
        assert all(1.5 < s < 8.0 for s in lengths), f"{speaker}: implausible lengths {lengths}: it should stop"
        if not (base_cer < 0.3 and base_cer <= floor + 0.15):
            failures.append(f"{speaker} reads at CER {base_cer:.3f} (its real recordings {floor:.3f}): {heard}")
    assert not failures, "the quickstart base does not speak every voice it knows:\n" + "\n".join(failures)
