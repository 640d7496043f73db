"""Names are text (``etest.kit.text``): properties over generated text, and real names."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etest.kit.text import check_name, refused_character

ZWNJ, ZWJ = "\u200c", "\u200d"
#: Letters and marks that render as nothing, refused although not control or format characters.
INVISIBLE = "\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5"
#: The characters a spoofer reaches for first: bidi controls, zero-width and invisible ones.
SPOOFERS = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    "\u200b\u2060\ufeff\u180e\u00ad\u2028\u2029\t\n\r\x00\x1b\x7f\x85\x9b" + INVISIBLE
)

#: Text of the characters a name may hold anywhere (no joiners: they depend on neighbours).
visible = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"), exclude_characters=INVISIBLE),
    max_size=40,
)
refused = st.sampled_from(SPOOFERS) | st.characters(
    categories=("Cc", "Cf", "Zl", "Zp"), exclude_characters=ZWNJ + ZWJ
)
letter = st.characters(categories=("L",))

REAL_NAMES = [
    "محمد عبد الله",  # Arabic
    "فاطمة الزهراء",  # Arabic
    "مهدی\u200cزاده",  # Persian, ZWNJ between letters
    "می\u200cخواهم",  # Persian verb prefix, ZWNJ
    "अनुष्का शर्मा",  # Hindi (virama, vowel signs)
    "क्\u200dष",  # Devanagari: virama then ZWJ (half form)
    "क्\u200cष",  # Devanagari: virama then ZWNJ (explicit virama)
    "王小明",
    "欧阳娜娜",  # Chinese
    "Nguyễn Thị Minh Khai",  # Vietnamese (NFC)
    "Trần Hưng Đạo",
    "José Ñúñez",
    "Zoë O'Brien-Łukasiewicz",
    "Ævar Þór",
    "👩\u200d💻",
    "👨\u200d👩\u200d👧",  # emoji ZWJ sequences
    "🏳\ufe0f\u200d🌈",  # variation selector before ZWJ
    "👩🏽\u200d💻",  # skin tone modifier before ZWJ
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_are_kept(name: str) -> None:
    assert check_name(name) == unicodedata.normalize("NFC", name)


def test_decomposed_vietnamese_is_stored_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Minh Khai")
    assert decomposed != "Nguyễn Thị Minh Khai"
    assert check_name(decomposed) == "Nguyễn Thị Minh Khai"


@pytest.mark.parametrize("ch", list(SPOOFERS))
def test_each_spoofer_is_refused_and_named(ch: str) -> None:
    with pytest.raises(ValueError, match=f"U\\+{ord(ch):04X}"):
        check_name(f"Ann{ch}Lee")


@pytest.mark.parametrize(
    "name",
    [
        f"{ZWNJ}Ann",
        f"Ann{ZWNJ}",
        f"Ann {ZWJ}Lee",
        f"a{ZWNJ}{ZWNJ}b",
        f"{ZWJ}",
        f"1{ZWJ}2",
        f"a{ZWJ}\u202eb",
    ],
)
def test_joiners_elsewhere_are_refused(name: str) -> None:
    assert refused_character(name) is not None
    with pytest.raises(ValueError, match="must not contain"):
        check_name(name)


@given(visible)
def test_visible_text_is_kept_in_nfc(text: str) -> None:
    out = check_name(text)
    assert out == unicodedata.normalize("NFC", text)
    assert check_name(out) == out  # idempotent


@given(visible, refused, visible)
def test_one_refused_character_anywhere_refuses_the_name(before: str, bad: str, after: str) -> None:
    assert refused_character(before + bad + after) is not None
    with pytest.raises(ValueError, match="must not contain"):
        check_name(before + bad + after)


@given(visible, letter, st.sampled_from([ZWNJ, ZWJ]), letter, visible)
def test_a_joiner_between_two_letters_is_kept(
    before: str, a: str, joiner: str, b: str, after: str
) -> None:
    name = before + a + joiner + b + after
    assert joiner in check_name(name)
