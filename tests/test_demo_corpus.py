"""The demo corpus's sentences: a bigger base corpus never reads text the quickstart or the
benchmarks score as unseen, and growing it leaves the quickstart corpus as it is."""

import sys
from pathlib import Path

import pytest

from hf_vclone.data.demo_corpus import (BASE_VOICES, DEMO_CLIPS, EXTRA_FIRST, NEAR_TARGET_VOICE, TARGET_VOICE,
                                        build_demo_corpus, corpus_sentences, sentences)
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
    with pytest.raises(UserError, match=r"us_m1/metadata.csv holds 2 clips.*3"):
        build_demo_corpus(tmp_path, clips_per_base_voice=3, target_clips=2)
