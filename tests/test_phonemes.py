"""VITS built from scratch reading espeak-ng phonemes (`vits.phonemize`): the vocabulary covers
what the tokenizer will produce, the data is prepared as phoneme ids, and the saved voice keeps
phonemizing when it speaks."""

from __future__ import annotations

from pathlib import Path

import phonemizer
import pytest
from transformers import VitsTokenizer

from hf_vclone.backends import recipe_backend
from hf_vclone.config import RecipeError, recipe_from_dict
from hf_vclone.finetune import run
from hf_vclone.models.char_tokenizer import build_vits_tokenizer
from hf_vclone.recipe_data import prepare_recipe_data
from hf_vclone.synthesize import load_voice
from conftest import TINY_VITS
from test_vits_training import vits_recipe


def _espeak(text: str) -> str:
    return phonemizer.phonemize(text.lower(), language="en-us", backend="espeak", strip=True,
                                preserve_punctuation=True, with_stress=True)


def _symbols(tokenizer: VitsTokenizer, ids: list[int]) -> str:
    """The symbols between the blanks (VitsTokenizer.decode drops every other symbol)."""
    return "".join(tokenizer.convert_ids_to_tokens(ids[1::2]))


def test_the_phoneme_vocabulary_covers_sentences_the_corpus_never_had(tmp_path: Path) -> None:
    tokenizer = build_vits_tokenizer(["The clever fox sold the blue jacket."], tmp_path, phonemize=True)
    assert tokenizer.phonemize and {"ð", "ə", "ˈ", "ɑ"} <= set(tokenizer.get_vocab())
    unseen = "Young people enjoy thinking, sometimes. Why?"  # ŋ, ʌ, ɔɪ, ʃ never in the corpus
    ids = tokenizer(unseen)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert _symbols(tokenizer, ids) == _espeak(unseen)
    letters = build_vits_tokenizer(["The clever fox sold the blue jacket."], tmp_path / "letters")
    assert not letters.phonemize and "ð" not in letters.get_vocab()


def test_a_phoneme_recipe_prepares_phoneme_ids_and_its_voice_speaks_phonemes(corpus: Path, tmp_path: Path) -> None:
    recipe = vits_recipe(corpus, tmp_path / "unused", tmp_path / "voice", max_steps=1, per_device_train_batch_size=2)
    recipe["model"] = {"type": "vits", "name_or_path": None, "processor": "build",
                       "init_config": {**TINY_VITS, "spectrogram_bins": 65}}
    recipe["vits"]["phonemize"] = True
    parsed = recipe_from_dict(recipe)
    prepared = prepare_recipe_data(parsed, recipe_backend(parsed), None)
    data, tokenizer = prepared.data, prepared.processor
    assert tokenizer.phonemize and not data.skipped
    row = data.train[0]
    assert _symbols(tokenizer, row["input_ids"]) == _espeak(row["text"])

    run(parsed)
    saved = VitsTokenizer.from_pretrained(tmp_path / "voice")
    assert saved.phonemize and saved.get_vocab() == tokenizer.get_vocab()
    wave, rate = load_voice(tmp_path / "voice").synthesize("Why enjoy young thinking?", seed=0)
    assert rate == 16000 and len(wave) > 0
    card = (tmp_path / "voice" / "README.md").read_text()  # no base: nothing "fine-tuned from None"
    assert "trained from scratch with hf_vclone" in card and "None" not in card and "Licence unknown" not in card


@pytest.mark.parametrize("key, value", [("phonemize", True), ("add_blank", False)])
def test_a_tokenizer_setting_with_a_pretrained_tokenizer_is_refused_by_name(
        key: str, value: bool, corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    recipe = vits_recipe(corpus, tiny_vits_base, tmp_path / "out")
    recipe["vits"][key] = value
    with pytest.raises(RecipeError, match=f"vits.{key}: applies to a tokenizer built from the data"):
        recipe_from_dict(recipe)


def test_add_blank_false_builds_phoneme_ids_without_blanks_and_the_data_keeps_them(
        corpus: Path, tmp_path: Path) -> None:
    recipe = vits_recipe(corpus, tmp_path / "unused", tmp_path / "voice", max_steps=1, per_device_train_batch_size=2)
    recipe["model"] = {"type": "vits", "name_or_path": None, "processor": "build",
                       "init_config": {**TINY_VITS, "spectrogram_bins": 65}}
    recipe["vits"].update(phonemize=True, add_blank=False)
    parsed = recipe_from_dict(recipe)
    prepared = prepare_recipe_data(parsed, recipe_backend(parsed), None)
    tokenizer, row = prepared.processor, prepared.data.train[0]
    assert not tokenizer.add_blank and tokenizer.pad_token_id not in row["input_ids"]
    assert "".join(tokenizer.convert_ids_to_tokens(row["input_ids"])) == _espeak(row["text"])


def test_a_speecht5_base_reads_phonemes_and_a_voice_fine_tuned_from_it_keeps_reading_them(
        corpus: Path, tmp_path: Path) -> None:
    """speecht5.phonemize: the base's SpeechT5Processor holds a phonemizing VitsTokenizer, reloads
    with plain transformers, and the clone fine-tuned from it reads the same phonemes."""
    from transformers import SpeechT5Processor

    from conftest import TINY, tiny_recipe

    base = recipe_from_dict({
        "model": {"name_or_path": None, "processor": "build", "init_config": TINY},
        "speaker": {"mode": "per_speaker"},
        "speecht5": {"phonemize": True},
        "data": {"path": str(corpus), "exclude_speakers": ["us_f5"]},
        "evaluation": {"enabled": False},
        "output": {"dir": str(tmp_path / "base")},
        "training": {"max_steps": 2, "per_device_train_batch_size": 4, "save_strategy": "no", "use_cpu": True},
    })
    prepared = prepare_recipe_data(base, recipe_backend(base), None)
    data, processor = prepared.data, prepared.processor
    assert isinstance(processor.tokenizer, VitsTokenizer) and not data.skipped
    row = data.train[0]
    assert "".join(processor.tokenizer.convert_ids_to_tokens(row["input_ids"])) == _espeak(row["text"])
    run(base)

    reloaded = SpeechT5Processor.from_pretrained(tmp_path / "base")
    assert isinstance(reloaded.tokenizer, VitsTokenizer) and reloaded.tokenizer.phonemize
    ids = reloaded(text="Why enjoy young thinking?")["input_ids"]
    assert "".join(reloaded.tokenizer.convert_ids_to_tokens(ids)) == _espeak("Why enjoy young thinking?")

    run(recipe_from_dict(tiny_recipe(corpus, tmp_path / "base", tmp_path / "clone",
                                     evaluation={"enabled": False}, training={"max_steps": 1})))
    clone = SpeechT5Processor.from_pretrained(tmp_path / "clone")
    assert clone.tokenizer.phonemize and clone.tokenizer.get_vocab() == reloaded.tokenizer.get_vocab()
    wave, rate = load_voice(tmp_path / "clone").synthesize("Why enjoy young thinking?", seed=0)
    assert rate == 16000 and len(wave) > 0


def test_speecht5_phonemize_with_a_pretrained_processor_is_refused_by_name(corpus: Path, tiny_base: Path,
                                                                           tmp_path: Path) -> None:
    from conftest import tiny_recipe

    with pytest.raises(RecipeError, match="speecht5.phonemize: applies to a tokenizer built from the data"):
        recipe_from_dict(tiny_recipe(corpus, tiny_base, tmp_path / "out", speecht5={"phonemize": True}))
