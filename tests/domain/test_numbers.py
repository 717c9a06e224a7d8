from __future__ import annotations

import pytest

from callmask.domain.errors import Code, InvalidParameters
from callmask.domain.numbers import normalise, redact


@pytest.mark.parametrize(
    "raw",
    ["+91 98765 43210", "919876543210", "09876543210", "9876543210", 919876543210, 9876543210.0],
)
def test_indian_spellings_normalise_to_one_e164(raw: object) -> None:
    assert normalise(raw, "m1", "IN") == "+919876543210"


def test_default_region_decides_national_numbers() -> None:
    assert normalise("2025550123", "m1", "US") == "+12025550123"


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "1234", "abc", True, -919876543210, [919876543210], {"n": 1}, 9.5, "9" * 41],
)
def test_invalid_numbers_raise_1000_naming_the_field(raw: object) -> None:
    with pytest.raises(InvalidParameters) as caught:
        normalise(raw, "m2", "IN")
    assert caught.value.code == Code.INVALID_PARAMETERS
    assert "m2" in caught.value.detail


# phonenumbers reads letters as keypad digits and keeps an extension apart: either way a typo
# or an extension would reach a different, real subscriber.
LETTERS_AND_EXTENSIONS = [
    "+91 98765 ABCDE",
    "1-800-FLOWERS",
    "+91 98765 4321O",
    "+919876543210 ext 12",
    "+919876543210 x12",
    "+919876543210;ext=12",
    "+919876543210#12",
    "+919876543210,12",
    "tel:+91-98765-43210",
    "+91\x009876543210",
    "+91 98765\x7f43210",
]


@pytest.mark.parametrize("raw", LETTERS_AND_EXTENSIONS)
def test_letters_extensions_and_control_characters_raise_1000_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidParameters) as caught:
        normalise(raw, "m1", "IN")
    assert "m1" in caught.value.detail


def test_digits_of_other_scripts_still_normalise() -> None:
    assert normalise("+٩١٩٨٧٦٥٤٣٢١٠", "m1", "IN") == "+919876543210"


def test_redact_keeps_only_last_four_digits() -> None:
    assert redact("+919876543210") == "…3210"
    assert "98765" not in redact("+919876543210")
