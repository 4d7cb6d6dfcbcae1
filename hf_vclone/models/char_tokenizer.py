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


def build_processor(texts: Iterable[str], directory: str | Path, sampling_rate: int = 16000,
                    phonemize: bool = False) -> SpeechT5Processor:
    """Tokenizer from `texts` plus the standard SpeechT5 log-mel feature extractor.

    `phonemize=True`: the tokenizer is a phonemizing `VitsTokenizer` (no blanks) instead of
    sentencepiece characters. SpeechT5Processor saves and reloads it as it is (AutoTokenizer reads
    its tokenizer_config.json), so `SpeechT5Processor.from_pretrained` needs nothing of ours."""
    texts = list(texts)
    if phonemize:
        tokenizer = build_vits_tokenizer(texts, directory, add_blank=False, phonemize=True)
    else:
        tokenizer = train_char_tokenizer(texts, directory)
    return SpeechT5Processor(
        feature_extractor=SpeechT5FeatureExtractor(sampling_rate=sampling_rate), tokenizer=tokenizer
    )


def build_vits_tokenizer(texts: Iterable[str], directory: str | Path, add_blank: bool = True,
                         phonemize: bool = False) -> VitsTokenizer:
    """A VitsTokenizer in the facebook/mms-tts-* layout (vocab.json, blank id 0 between symbols,
    lower-casing `normalize`) over the corpus' own symbols.

    `phonemize=False`: characters of the lower-cased corpus. `phonemize=True`: espeak-ng IPA
    phonemes (with stress marks), as the original VITS (kakao-enterprise/vits-ljs) reads its text.
    Phonemes spare a small model from learning English spelling, which a few thousand sentences
    cannot teach it; the tokenizer phonemizes every text itself (transformers calls `phonemizer`)."""
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise UserError("cannot build a tokenizer: the data has no transcripts")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kwargs = dict(pad_token="<pad>", unk_token="<unk>", add_blank=add_blank, normalize=True, phonemize=phonemize)
    if phonemize:
        symbols = phoneme_alphabet(texts)
    else:
        symbols = sorted({ch for t in texts for ch in t.lower()})
    vocab = {"<pad>": 0, **{ch: i + 1 for i, ch in enumerate(symbols)}}
    vocab["<unk>"] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return VitsTokenizer(vocab_file=str(directory / "vocab.json"), **kwargs)


def unread_characters(tokenizer: VitsTokenizer, text: str) -> list[str]:
    """What of `text` a VitsTokenizer would drop: with normalize on it lower-cases and silently
    drops symbols outside its vocabulary, so they are reported instead. A phonemizing tokenizer
    reads the phonemes, so those are checked."""
    vocab = tokenizer.get_vocab()
    if tokenizer.phonemize:
        seen = tokenizer.prepare_for_tokenization(text, normalize=tokenizer.normalize)[0]
    else:
        seen = tokenizer.normalize_text(text) if tokenizer.normalize else text
    return sorted({ch for ch in seen if ch not in vocab})


def phoneme_alphabet(texts: list[str]) -> list[str]:
    """Every symbol espeak-ng's en-us phonemes of `texts` use, as VitsTokenizer will produce them
    (one batched phonemizer call: a call per text costs 50 ms of start-up each)."""
    try:
        import phonemizer
    except ImportError:
        raise UserError("vits.phonemize needs the phonemizer package and espeak-ng: "
                        "pip install phonemizer, and install espeak-ng (make setup does both)") from None
    try:  # VitsTokenizer lower-cases (normalize) before it phonemizes
        phonemes = phonemizer.phonemize([t.lower() for t in texts], language="en-us", backend="espeak", strip=True,
                                        preserve_punctuation=True, with_stress=True)
    except RuntimeError as err:  # phonemizer raises RuntimeError when espeak-ng is missing
        raise UserError(f"vits.phonemize: {err}; install espeak-ng (make setup does)") from None
    return sorted({ch for p in phonemes for ch in p} | set(ENGLISH_PHONEMES))


# espeak-ng's en-us output symbols and the punctuation phonemizer keeps: in the vocabulary even when
# the training corpus lacks one, so that a new sentence never meets an unknown phoneme.
ENGLISH_PHONEMES = " !\"',-.:;?abdefhijklmnoprstuvwzæçðŋɐɑɔəɚɛɜɡɪɬɹɾʃʊʌʒʔˈˌːθᵻ"

