"""What a transcript goes through between the text a user writes and the tokenizer: the same steps
in training, evaluation and synthesis, so a voice reads at inference what it was trained on.

1. `data.replacements`, a character map (the SpeechT5 tutorial's approach, for every backend): a
   tokenizer that lacks "é" or "ß" would drop them; mapped to "e" or "ss" the sound survives. The
   map is saved with the voice (vclone.json) and applied again when it speaks.
2. uroman, where the tokenizer says `is_uroman` (many facebook/mms-tts-* checkpoints: their
   characters are romanised, so Korean or Russian must be romanised before tokenizing, as
   MMS was trained). uroman is pure Python (PyPI), run in-process.

The transcript kept in the dataset and scored by the ASR stays the original text: romanised
Korean is what the model reads, not what a listener hears.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextFrontEnd:
    replacements: tuple[tuple[str, str], ...] = ()  # applied in order, before romanising
    uroman: bool = False
    language: str | None = None  # ISO 639-3 code for uroman's language-specific rules, when known

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, replacements: Mapping[str, str] | None) -> TextFrontEnd:
        """The front end a tokenizer asks for (uroman when it says `is_uroman`), with the map."""
        language = getattr(tokenizer, "language", None)
        return cls(tuple((replacements or {}).items()), bool(getattr(tokenizer, "is_uroman", False)),
                   language if isinstance(language, str) else None)

    def __call__(self, text: str) -> str:
        for old, new in self.replacements:
            text = text.replace(old, new)
        if self.uroman:
            text = _uroman().romanize_string(text, lcode=self.language)
        return text

    def __bool__(self) -> bool:
        return bool(self.replacements) or self.uroman


@functools.cache
def _uroman() -> Any:
    """One romaniser per process: building it reads uroman's rule tables (about a second)."""
    import uroman

    return uroman.Uroman()
