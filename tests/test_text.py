import pytest

from hf_vclone.data import text as text_module
from hf_vclone.data.text import NORMALIZERS, get_normalizer, normalize_text, register_normalizer
from hf_vclone.errors import UserError


def expands(pairs: dict[str, str], language: str = "en") -> None:
    for source, spoken in pairs.items():
        assert normalize_text(source, language) == spoken, source


def test_a_mixed_sentence_reads_as_spoken_english() -> None:
    assert (
        normalize_text("Dr. Smith paid $3.50 on 1st May 1984.")
        == "Doctor Smith paid three dollars, fifty cents on first May nineteen eighty-four."
    )


def test_cardinals_with_separators_decimals_and_signs() -> None:
    expands({
        "1,234 cats": "one thousand, two hundred and thirty-four cats",
        "3.5 kilos": "three point five kilos",
        "3.50": "three point five zero",  # every written digit is spoken
        "it fell to -7": "it fell to minus seven",
        "pages 10-20": "pages ten-twenty",  # a hyphen between numbers is a range, not a minus
        "0.05": "zero point zero five",
        "1,2,3": "one,two,three",  # a list, not a thousands separator
    })


def test_leading_zeros_and_long_ids_are_read_digit_by_digit() -> None:
    expands({"agent 007": "agent zero zero seven", "ref 12345678901234": "ref one two three four five six "
             "seven eight nine zero one two three four"})


def test_ordinals() -> None:
    expands({"1st 22nd 3rd 4th": "first twenty-second third fourth", "the 1,000th": "the one thousandth"})


def test_four_digit_numbers_in_year_range_read_as_years() -> None:
    expands({
        "in 1984": "in nineteen eighty-four",
        "in 1905": "in nineteen oh-five",
        "in 2005": "in two thousand and five",
        "in 1100": "in eleven hundred",
        "2100 people": "two thousand, one hundred people",  # outside 1100-2099: a cardinal
        "1,984 people": "one thousand, nine hundred and eighty-four people",  # a separator means a count
        "the 1980s and 20s": "the nineteen eighties and twenties",
    })


def test_currency_uses_unit_names_and_singular_forms() -> None:
    expands({
        "$5": "five dollars",
        "$1": "one dollar",
        "$3.50": "three dollars, fifty cents",
        "$1.01": "one dollar, one cent",
        "$0.50": "fifty cents",
        "£2": "two pounds",
        "£0.01": "one penny",
        "€10": "ten euros",
        "$1,000": "one thousand dollars",
        "$2.5 million": "two point five million dollars",
    })


def test_percentages_degrees_and_times() -> None:
    expands({
        "50% off": "fifty percent off",
        "-3.5 %": "minus three point five percent",
        "20°C and -5 °F": "twenty degrees Celsius and minus five degrees Fahrenheit",
        "1° north": "one degree north",
        "at 10:30.": "at ten thirty.",
        "at 9:05am": "at nine oh five am",
        "at 10:00": "at ten o'clock",
        "at 14:00": "at fourteen hundred",
    })


def test_titles_and_latin_abbreviations() -> None:
    expands({
        "Mr. and Mrs. Jones met Ms. Lee": "Mister and Missus Jones met Miz Lee",
        "Prof. Capt. Gen. Lt. Col. Jr. Sr. Bo": "Professor Captain General Lieutenant Colonel Junior Senior Bo",
        "Mt. Everest": "Mount Everest",
        "cats vs. dogs, e.g. these, i.e. those": "cats versus dogs, for example these, that is those",
        "E.g., fruit": "For example, fruit",
        "apples, pears, etc.": "apples, pears, et cetera.",  # the sentence still ends
        "Martin Luther King Jr.": "Martin Luther King Junior.",
        "Dr.Smith": "Doctor Smith",
    })


def test_abbreviations_are_case_sensitive_where_lowercase_means_another_word() -> None:
    expands({"the gen. pop": "the gen. pop", "dr. who": "dr. who"})


def test_st_is_saint_before_a_name_and_street_otherwise() -> None:
    expands({
        "St. Paul lives on Main St. in town": "Saint Paul lives on Main Street in town",
        "on Main St.": "on Main Street.",
    })


def test_symbols_become_words() -> None:
    expands({
        "Tom & Jerry": "Tom and Jerry",
        "1+1=2": "one plus one equals two",
        "C++.": "C plus plus.",
        "me @ home": "me at home",
        "#1 hit, #tag": "number one hit, #tag",  # "#" only means "number" before digits
        "mp3 and A4": "mp three and A four",
    })


def test_whitespace_collapses_and_punctuation_stays() -> None:
    expands({"  Well ,  hello\n\tthere!  ": "Well, hello there!"})
    kept = "Wait; \"what?\" - she said: 'no'."
    assert normalize_text(kept) == kept


def test_normalising_twice_changes_nothing() -> None:
    for source in ["Dr. Smith paid $3.50 on 1st May 1984.", "At 10:30, 50% of St. Louis & co. left, etc."]:
        once = normalize_text(source)
        assert normalize_text(once) == once
    plain = "Hello there, how are you today? I'm fine - thanks!"
    assert normalize_text(plain) == plain


def test_other_num2words_languages_expand_digits_only() -> None:
    expands({"Ich habe 42 Äpfel.": "Ich habe zweiundvierzig Äpfel."}, "de")
    expands({"Il a 21 ans en 2024 !": "Il a vingt et un ans en deux mille vingt-quatre !"}, "fr")
    expands({"I have 5 cats": "I have five cats"}, "en-GB")  # regional codes fall back to the base


def test_unknown_language_is_a_user_error_naming_the_key_and_the_fix() -> None:
    with pytest.raises(UserError) as err:
        normalize_text("anything", "xx")
    message = str(err.value)
    assert "data.language='xx'" in message and "de, en" in message
    assert "data.normalize_text: false" in message and "register_normalizer" in message


def test_a_registered_normalizer_replaces_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "NORMALIZERS", dict(NORMALIZERS))  # keep the registry clean for other tests
    register_normalizer("xx", str.upper)
    assert normalize_text("hello 5", "xx") == "HELLO 5"
    assert get_normalizer("xx-YY") is str.upper
    with pytest.raises(TypeError, match="callable"):
        register_normalizer("yy", "not a function")  # type: ignore[arg-type]
