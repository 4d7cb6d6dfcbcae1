"""The demo corpus's sentences: a bigger base corpus never reads text the quickstart or the
benchmarks score as unseen, and growing it leaves the quickstart corpus as it is."""

import sys
from pathlib import Path

import pytest

from hf_vclone.data import demo_corpus
from hf_vclone.data.demo_corpus import (BASE_VOICES, DEMO_CLIPS, EXTRA_FIRST, NEAR_TARGET_VOICE, TARGET_VOICE,
                                        build_demo_corpus, corpus_sentences, sentences, vocabulary)
from hf_vclone.errors import UserError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from base_cer import held_out_sentences  # noqa: E402

TARGETS = [*TARGET_VOICE, *NEAR_TARGET_VOICE]


def test_a_bigger_corpus_keeps_the_small_ones_sentences_and_adds_unseen_text_only() -> None:
    small = corpus_sentences(DEMO_CLIPS, 220, TARGETS)
    big = corpus_sentences(1000, 220, TARGETS)
    for voice in BASE_VOICES:
        assert len(big[voice]) == 1000 and big[voice][:DEMO_CLIPS] == small[voice]
    for target in TARGETS:
        assert big[target] == small[target]
    every = [s for lines in big.values() for s in lines]
    assert len(set(every)) == len(every)  # no sentence read twice, by one voice or two
    # what is scored as unseen stays unseen: the targets' sentences and the held-out benchmark ones
    extra = {s for voice in BASE_VOICES for s in big[voice][DEMO_CLIPS:]}
    assert not extra & {s for t in TARGETS for s in big[t]}
    assert not extra & set(held_out_sentences(200))
    assert set(held_out_sentences(200)) <= set(sentences(EXTRA_FIRST, 0))


def test_fewer_clips_than_the_demo_take_a_prefix() -> None:
    assert corpus_sentences(6, 10, TARGETS)["us_m1"] == sentences(6, 0)


def test_a_folder_built_with_another_size_is_named_not_reused(tmp_path: Path) -> None:
    build_demo_corpus(tmp_path, clips_per_base_voice=2, target_clips=2)
    with pytest.raises(UserError, match=r"us_m1/metadata.csv holds 2 clips that are not the 3"):
        build_demo_corpus(tmp_path, clips_per_base_voice=3, target_clips=2)


def test_shuffled_extra_text_changes_only_the_extra_sentences() -> None:
    grammar = corpus_sentences(1000, 220, TARGETS)
    shuffled = corpus_sentences(1000, 220, TARGETS, extra_text="shuffled")
    for target in TARGETS:
        assert shuffled[target] == grammar[target]
    words = set(vocabulary())
    held_out = set(held_out_sentences(200))
    for voice in BASE_VOICES:
        assert shuffled[voice][:DEMO_CLIPS] == grammar[voice][:DEMO_CLIPS]
        extra = shuffled[voice][DEMO_CLIPS:]
        assert len(extra) == 1000 - DEMO_CLIPS and not set(extra) & set(grammar[voice]) and not set(extra) & held_out
        # the grammar's own words, no other, in no order the grammar makes
        assert all({w.strip(",.?!").lower() for w in s.split()} <= words for s in extra)
        # in no order the grammar makes: far more distinct word pairs than as many grammar sentences
        pairs = {p for s in extra for p in zip(s.lower().split(), s.lower().split()[1:])}
        grammar_pairs = {p for s in grammar[voice][DEMO_CLIPS:] for p in zip(s.lower().split(), s.lower().split()[1:])}
        assert len(pairs) > 3 * len(grammar_pairs)
        # no character the grammar's own sentences lack (a tokenizer built on them encodes these)
        assert set("".join(extra)) <= set("".join(grammar[voice]))
    every = [s for lines in shuffled.values() for s in lines]
    assert len(set(every)) == len(every)
    with pytest.raises(ValueError, match="extra_text"):
        corpus_sentences(10, 2, TARGETS, extra_text="random")


def test_a_folder_built_with_other_text_is_named_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_corpus, "DEMO_CLIPS", 1)  # one grammar sentence, then the extra ones
    build_demo_corpus(tmp_path, clips_per_base_voice=2, target_clips=1)
    with pytest.raises(UserError, match=r"us_m1/metadata.csv holds 2 clips .*demo_extra_text"):
        build_demo_corpus(tmp_path, clips_per_base_voice=2, target_clips=1, extra_text="shuffled")
