"""Text beyond ASCII (text_frontend.py): `data.replacements` and uroman reach the tokenizer in
training, evaluation and synthesis alike, and the dataset keeps the text as written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import VitsTokenizer

from hf_vclone.backends import recipe_backend
from hf_vclone.config import RecipeError, recipe_from_dict
from hf_vclone.finetune import run
from hf_vclone.recipe_data import prepare_recipe_data, recipe_frontend
from hf_vclone.synthesize import load_voice
from hf_vclone.text_frontend import TextFrontEnd
from test_vits_training import vits_recipe

RUSSIAN = ["привет мир", "добрый вечер", "спасибо большое", "хорошая погода", "я читаю книгу",
           "мы идем домой", "она пишет письмо", "он любит море", "сегодня тепло", "до свидания"]


def test_replacements_apply_in_order_and_uroman_romanises() -> None:
    assert TextFrontEnd((("é", "e"), ("ß", "ss")))("Café Straße") == "Cafe Strasse"
    assert TextFrontEnd((("ab", "x"), ("x", "y")))("ab") == "y"  # in order: the second sees the first's output
    assert TextFrontEnd(uroman=True)("привет мир") == "privet mir"
    assert not TextFrontEnd() and TextFrontEnd(uroman=True)


def _uroman_base(tiny_vits_base: Path, tmp_path: Path) -> Path:
    """The tiny base with its tokenizer marked is_uroman, as facebook/mms-tts-rus and others are."""
    base = tmp_path / "uroman_base"
    shutil.copytree(tiny_vits_base, base)
    config = json.loads((base / "tokenizer_config.json").read_text())
    (base / "tokenizer_config.json").write_text(json.dumps({**config, "is_uroman": True}))
    assert VitsTokenizer.from_pretrained(base).is_uroman
    return base


def _russian_corpus(corpus: Path, tmp_path: Path) -> Path:
    """The target's recordings with Cyrillic transcripts (the audio does not match; preparation
    only needs a text to tokenize)."""
    out = tmp_path / "ru_corpus"
    shutil.copytree(corpus / "us_f5", out / "us_f5")
    rows = (out / "us_f5" / "metadata.csv").read_text().splitlines()
    lines = [f"{row.split('|')[0]}|{RUSSIAN[i % len(RUSSIAN)]}" for i, row in enumerate(rows)]
    (out / "us_f5" / "metadata.csv").write_text("\n".join(lines) + "\n")
    return out


def test_an_is_uroman_tokenizer_trains_on_romanised_text_and_the_dataset_keeps_the_original(
        corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    base = _uroman_base(tiny_vits_base, tmp_path)
    recipe = recipe_from_dict(vits_recipe(_russian_corpus(corpus, tmp_path), base, tmp_path / "out"))
    backend = recipe_backend(recipe)
    prepared = prepare_recipe_data(recipe, backend, None)
    data, tokenizer = prepared.data, prepared.processor
    assert len(data.train) + len(data.eval) == 10 and not data.skipped  # no clip lost to "unknown characters"
    for row in data.train:
        assert row["text"] in RUSSIAN
        romanised = TextFrontEnd(uroman=True)(row["text"])
        assert row["input_ids"] == tokenizer(romanised)["input_ids"]
        assert len(row["input_ids"]) >= len(romanised)  # nothing dropped: every letter has an id
    assert recipe_frontend(recipe, backend, tokenizer)("привет") == "privet"  # evaluation speaks the same way


def test_without_uroman_cyrillic_is_reported_with_the_replacements_fix(
        corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    recipe = vits_recipe(_russian_corpus(corpus, tmp_path), tiny_vits_base, tmp_path / "out")
    recipe["data"]["max_bad_fraction"] = 1.0
    with pytest.raises(Exception, match="data.replacements"):
        prepare_recipe_data(recipe_from_dict(recipe), recipe_backend(recipe_from_dict(recipe)), None)


def test_replacements_are_saved_with_the_voice_and_applied_when_it_speaks(
        corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    out = tmp_path / "voice"
    recipe = vits_recipe(corpus, tiny_vits_base, out, max_steps=1)
    recipe["data"]["replacements"] = {"é": "e", "ß": "ss"}
    run(recipe_from_dict(recipe))
    assert json.loads((out / "vclone.json").read_text())["replacements"] == {"é": "e", "ß": "ss"}
    voice = load_voice(out)
    mapped, _ = voice.synthesize("the cafe sells bread", seed=3)
    accented, _ = voice.synthesize("the café sells bread", seed=3)
    dropped, _ = voice.synthesize("the caf sells bread", seed=3)  # what the tokenizer alone makes of "café"
    np.testing.assert_array_equal(accented, mapped)
    assert accented.shape != dropped.shape or not np.array_equal(accented, dropped)


def test_an_empty_replacement_key_is_refused_by_name(corpus: Path, tiny_vits_base: Path, tmp_path: Path) -> None:
    recipe = vits_recipe(corpus, tiny_vits_base, tmp_path / "out")
    recipe["data"]["replacements"] = {"": "x"}
    with pytest.raises(RecipeError, match="data.replacements"):
        recipe_from_dict(recipe)
