"""Character-level tokenizers (SpeechT5; VITS below) built on a corpus' own transcripts.

Training a base model from scratch (the offline quickstart's base, tiny test models) needs a
vocabulary, and the Hub's `microsoft/speecht5_tts` tokenizer cannot be downloaded here. A
sentencepiece *char* model has exactly one piece per character, so any text in the corpus'
alphabet encodes without unknowns. Special ids follow SpeechT5's layout: <s>=0 <pad>=1 </s>=2 <unk>=3.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm
from transformers import SpeechT5FeatureExtractor, SpeechT5Processor, SpeechT5Tokenizer, VitsTokenizer
from ..errors import UserError


def train_char_tokenizer(texts: Iterable[str], directory: str | Path) -> SpeechT5Tokenizer:
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise UserError("cannot build a tokenizer: the data has no transcripts")
    alphabet = sorted({ch for t in texts for ch in t.replace(" ", "")})
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / "spm_char"
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(prefix),
            model_type="char",
            vocab_size=len(alphabet) + 5,  # characters + "▁" + 4 specials
            character_coverage=1.0,
            bos_id=0,
            pad_id=1,
            eos_id=2,
            unk_id=3,
            minloglevel=2,
        )
    return SpeechT5Tokenizer(vocab_file=str(prefix) + ".model")


def build_processor(texts: Iterable[str], directory: str | Path, sampling_rate: int = 16000) -> SpeechT5Processor:
    """Tokenizer from `texts` plus the standard SpeechT5 log-mel feature extractor."""
    tokenizer = train_char_tokenizer(texts, directory)
    return SpeechT5Processor(
        feature_extractor=SpeechT5FeatureExtractor(sampling_rate=sampling_rate), tokenizer=tokenizer
    )


def build_vits_tokenizer(texts: Iterable[str], directory: str | Path, add_blank: bool = True) -> VitsTokenizer:
    """A character VitsTokenizer in the facebook/mms-tts-* layout (vocab.json, blank id 0 between
    characters, lower-casing `normalize`, no phonemizer) over the lower-cased corpus alphabet."""
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise UserError("cannot build a tokenizer: the data has no transcripts")
    alphabet = sorted({ch for t in texts for ch in t.lower()})
    vocab = {"<pad>": 0, **{ch: i + 1 for i, ch in enumerate(alphabet)}}
    vocab["<unk>"] = len(vocab)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return VitsTokenizer(vocab_file=str(directory / "vocab.json"), pad_token="<pad>", unk_token="<unk>",
                         add_blank=add_blank, normalize=True, phonemize=False)
