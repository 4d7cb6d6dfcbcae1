"""Transcript normalisation: write out what a speaker says, because the model only learns from letters.

A TTS tokenizer sees "$3.50" as four odd symbols with no sound attached. If transcripts keep them,
the model either skips them or learns to mumble. So before training (and before synthesis) we
expand numbers, currency, times, abbreviations and symbols into words, and keep ordinary
punctuation, which carries the pauses and intonation.

Numbers are always spelled by num2words (no home-made speller), so any language it supports gets at
least a digits-to-words fallback. Each language is one function in `NORMALIZERS`; English is
built in and `register_normalizer` adds or replaces one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from num2words import num2words

from hf_vclone.errors import UserError

Normalizer = Callable[[str], str]

# Longer plain digit runs are IDs or phone numbers, which people read digit by digit.
_MAX_CARDINAL_DIGITS = 12

# ---- English patterns, compiled once. Each pass below removes what the later passes would misread.
_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?!\d)"  # "1,234" is one number; "1,2,3" is three
_NUM = rf"{_INT}(?:\.\d+)?"
_SIGNED = rf"(?:(?<![\w.,])[-\u2212])?{_NUM}"  # minus only when not glued to a word: "10-20" is a range

_TITLES = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Jr": "Junior", "Sr": "Senior",
    "Prof": "Professor", "Capt": "Captain", "Gen": "General", "Lt": "Lieutenant", "Col": "Colonel",
    "Mt": "Mount",
}  # capitalised only: "gen." or "col." in lower case are more likely other words
_LATIN = {"vs.": "versus", "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is"}
_TITLE_RE = re.compile(rf"(?<![\w.])({'|'.join(_TITLES)})\.")
_LATIN_RE = re.compile(rf"(?<![\w.])({'|'.join(map(re.escape, _LATIN))})", re.IGNORECASE)
_SAINT_RE = re.compile(r"(?<![\w.])St\.(?=\s+[A-Z])")  # "St. Paul"; "Main St." falls through
_STREET_RE = re.compile(r"(?<![\w.])St\.")

_CURRENCIES = {  # symbol: (one, many, one hundredth, many hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}
_CURRENCY_RE = re.compile(rf"([$£€])\s?({_NUM})(?:\s+(thousand|million|billion|trillion)\b)?")
_PERCENT_RE = re.compile(rf"({_SIGNED})\s?%")
_DEGREE_RE = re.compile(rf"({_SIGNED})\s?°(?:\s?([CF])(?![a-zA-Z]))?")
_TIME_RE = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")
_ORDINAL_RE = re.compile(rf"(?<![\w.])({_INT})(st|nd|rd|th)\b", re.IGNORECASE)
_DECADE_RE = re.compile(r"(?<![\w.])(\d*0)s\b")  # "1980s", "20s"
_HASH_RE = re.compile(r"#\s?(?=\d)")
# "mp3" -> "mp 3", "10:30am" -> "10:30 am"; "1st" and "1980s" stay glued for their own passes.
_LETTER_DIGIT_RE = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])(?!(?:st|nd|rd|th|s)\b)", re.IGNORECASE)
_NUMBER_RE = re.compile(_SIGNED)
_SYMBOLS = {"&": " and ", "+": " plus ", "@": " at ", "=": " equals ", "°": " degrees "}
_SYMBOL_RE = re.compile("|".join(map(re.escape, _SYMBOLS)))
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+(?=[.,!?;:])")
_SPACES_RE = re.compile(r"\s+")
_DIGITS_RE = re.compile(r"\d+")


def _digits(run: str, lang: str) -> str:
    """Digit by digit, as people read "007" or a long account number."""
    return " ".join(num2words(int(d), lang=lang) for d in run)


def _integer(run: str, lang: str = "en") -> str:
    """A plain digit run; a leading zero or an ID-length run is read digit by digit."""
    if (len(run) > 1 and run[0] == "0") or len(run) > _MAX_CARDINAL_DIGITS:
        return _digits(run, lang)
    return num2words(int(run), lang=lang)


def _number(token: str) -> str:
    """English cardinal for a matched `_SIGNED` token, decimals read digit by digit ("three point five zero")."""
    sign = "minus " if token[0] in "-\u2212" else ""
    whole, _, frac = token.lstrip("-\u2212").replace(",", "").partition(".")
    words = _integer(whole) + (f" point {_digits(frac, 'en')}" if frac else "")
    return sign + words


def _year_or_number(token: str) -> str:
    """A bare 4-digit 1100-2099 is almost always a year in a transcript; anything else is a cardinal."""
    if len(token) == 4 and token.isdigit() and 1100 <= int(token) <= 2099:
        return num2words(int(token), lang="en", to="year")
    return _number(token)


def _currency(match: re.Match[str]) -> str:
    """Money is said with the unit after the amount and cents apart: "$3.50" three dollars, fifty cents."""
    one, many, sub_one, sub_many = _CURRENCIES[match.group(1)]
    amount, scale = match.group(2), match.group(3)
    if scale:  # "$1.5 million" -> "one point five million dollars"
        return f"{_number(amount)} {scale} {many}"
    whole, _, frac = amount.replace(",", "").partition(".")
    if len(frac) > 2:  # not a price in cents: "$0.005" is read as a decimal
        return f"{_number(amount)} {many}"
    units, cents = int(whole), int(frac.ljust(2, "0")) if frac else 0
    parts = [f"{num2words(units)} {one if units == 1 else many}"] if units or not cents else []
    if cents:
        parts.append(f"{num2words(cents)} {sub_one if cents == 1 else sub_many}")
    return ", ".join(parts)


def _degrees(match: re.Match[str]) -> str:
    """Say "20°C" as twenty degrees Celsius: a bare "C" would be read as the letter."""
    unit = {"C": " Celsius", "F": " Fahrenheit"}.get(match.group(2) or "", "")
    return f"{_number(match.group(1))} {'degree' if match.group(1) == '1' else 'degrees'}{unit}"


def _time(match: re.Match[str]) -> str:
    """Spoken clock time: "10:30" ten thirty, "9:05" nine oh five, "10:00" ten o'clock."""
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute == 0:
        return f"{num2words(hour)} o'clock" if 1 <= hour <= 12 else f"{num2words(hour)} hundred"
    return f"{num2words(hour)} {'oh ' if minute < 10 else ''}{num2words(minute)}"


def _decade(match: re.Match[str]) -> str:
    """A plural of a round number: "1980s" nineteen eighties, "20s" twenties."""
    words = _year_or_number(match.group(1))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _keep_final_period(match: re.Match[str], words: str) -> str:
    """An abbreviation that ends the text also ends the sentence, so its period stays for prosody.

    One glued to the next word ("Dr.Smith") gets a space, or the model would see "DoctorSmith".
    """
    rest = match.string[match.end():]
    if not rest.strip():
        return words + "."
    return words + " " if rest[0].isalnum() else words


def _latin(abbreviation: str) -> str:
    words = _LATIN[abbreviation.lower()]
    return words[0].upper() + words[1:] if abbreviation[0].isupper() else words  # "E.g." starts a sentence


def _abbreviations(text: str) -> str:
    text = _TITLE_RE.sub(lambda m: _keep_final_period(m, _TITLES[m.group(1)]), text)
    text = _LATIN_RE.sub(lambda m: _keep_final_period(m, _latin(m.group(1))), text)
    text = _SAINT_RE.sub("Saint", text)
    return _STREET_RE.sub(lambda m: _keep_final_period(m, "Street"), text)


def normalize_english(text: str) -> str:
    """Expand English numbers, currency, times, abbreviations and symbols into words.

    Order matters: money, percentages, degrees, times, ordinals and decades each claim their
    digits before the last pass reads what is left as years or plain cardinals.
    """
    text = _abbreviations(text)
    text = _LETTER_DIGIT_RE.sub(" ", text)
    text = _CURRENCY_RE.sub(_currency, text)
    text = _PERCENT_RE.sub(lambda m: f"{_number(m.group(1))} percent", text)
    text = _DEGREE_RE.sub(_degrees, text)
    text = _TIME_RE.sub(_time, text)
    text = _ORDINAL_RE.sub(lambda m: num2words(int(m.group(1).replace(",", "")), to="ordinal"), text)
    text = _DECADE_RE.sub(_decade, text)
    text = _HASH_RE.sub("number ", text)
    text = _NUMBER_RE.sub(lambda m: _year_or_number(m.group(0)), text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)
    return _tidy(text)


def _tidy(text: str) -> str:
    """Collapse whitespace, and drop the space a symbol expansion leaves before punctuation."""
    return _SPACES_RE.sub(" ", _SPACE_BEFORE_PUNCT_RE.sub("", text)).strip()


def _digits_only(text: str, language: str) -> str:
    """Fallback for languages without their own rules: digit runs become num2words words in place and
    nothing else changes. Separators ("1.234" is 1234 in German) differ by locale, so they are not
    guessed, and no spaces are added because some scripts (Japanese, Chinese) do not use them."""
    text = _DIGITS_RE.sub(lambda m: _integer(m.group(0), language), text)
    return _SPACES_RE.sub(" ", text).strip()  # not _tidy: French puts a space before "!?;:" on purpose


NORMALIZERS: dict[str, Normalizer] = {"en": normalize_english}


def register_normalizer(language: str, fn: Normalizer) -> None:
    """Add or replace the normaliser for `language` (e.g. one with German abbreviations)."""
    if not isinstance(language, str) or not language:
        raise TypeError(f"language must be a non-empty string like 'de', got {language!r}")
    if not callable(fn):
        raise TypeError(f"normaliser for {language!r} must be callable(str) -> str, got {type(fn).__name__}")
    NORMALIZERS[language] = fn


def get_normalizer(language: str) -> Normalizer:
    """The registered normaliser (exact code, then base code: "en-GB" -> "en"), else num2words digits.

    Raises UserError for a language neither the registry nor num2words knows, so a typo in the
    recipe fails before any data is prepared rather than leaving digits in every transcript.
    """
    base = re.split(r"[-_]", language, maxsplit=1)[0].lower()
    for code in (language, base):
        if code in NORMALIZERS:
            return NORMALIZERS[code]
    for code in (language.replace("-", "_"), base):  # num2words spells regional codes "pt_BR"
        try:
            num2words(1, lang=code)
        except NotImplementedError:
            continue
        return partial(_digits_only, language=code)
    examples = ", ".join(sorted(set(NORMALIZERS) | {"de", "es", "fr", "it", "nl", "pl", "pt", "ru"}))
    raise UserError(
        f"data.language={language!r}: no text normaliser for this language "
        f"(supported include {examples}, and any language num2words knows). "
        "Set `data.normalize_text: false` to train on the transcripts as they are, or call "
        f"hf_vclone.data.text.register_normalizer({language!r}, fn) first."
    )


def normalize_text(text: str, language: str = "en") -> str:
    """Rewrite a transcript the way a speaker of `language` would read it aloud."""
    return get_normalizer(language)(text)
