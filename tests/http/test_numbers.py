"""Phone numbers on set: every written form becomes E.164; bad ones name their field."""

from __future__ import annotations

import itertools

from callmask.domain.errors import Code
from tests.support import A, B, Live, assert_error, count

WRITTEN_FORMS_OF_A = ["+91 98765 43210", "919876543210", 919876543210, "09876543210", "9876543210"]


def test_every_written_form_of_a_number_answers_in_e164(live: Live) -> None:
    for field, written in itertools.product(("m1", "m2"), WRITTEN_FORMS_OF_A):
        params = {"m1": written, "m2": B} if field == "m1" else {"m1": B, "m2": written}
        answer = live.set(**params)
        assert answer["status"] == "success", (field, written, answer)
        assert answer[field] == A, (field, written, answer)
        # End it, so the next form of the same number is a fresh request and not a 1503.
        assert live.unset(m1=A, m2=B)["status"] == "success"


def test_missing_or_invalid_number_is_1000_naming_the_field(live: Live) -> None:
    bad_values = [None, "", "   ", "12345", "abc", "+91 12", "+999123456", "+9198765432109876", 0]
    for field, bad in itertools.product(("m1", "m2"), bad_values):
        other = "m2" if field == "m1" else "m1"
        params = {other: B} if bad is None else {other: B, field: bad}
        answer = live.set(**params)
        assert answer["code"] == Code.INVALID_PARAMETERS, (bad, answer)
        assert field in str(answer["message"]), (bad, answer)
    assert count(live, "maskings") == 0


def test_letters_or_an_extension_in_a_number_are_1000_naming_the_field(live: Live) -> None:
    for field, bad in itertools.product(
        ("m1", "m2"), ["+91 98765 ABCDE", "1-800-FLOWERS", "+919876543210 ext 12"]
    ):
        other = "m2" if field == "m1" else "m1"
        assert_error(live.set(**{other: B, field: bad}), Code.INVALID_PARAMETERS, field)
    assert count(live, "maskings") == 0


def test_missing_m1_message_says_required(live: Live) -> None:
    assert_error(live.set(m2=B), Code.INVALID_PARAMETERS, "m1", "required")


def test_same_number_after_normalisation_is_1501(live: Live) -> None:
    for m1, m2 in [
        ("9876543210", "+919876543210"),
        ("09876543210", 919876543210),
        ("+91 98765 43210", "919876543210"),
    ]:
        answer = live.set(m1=m1, m2=m2)
        assert answer["code"] == Code.SAME_NUMBERS, (m1, m2, answer)
        assert answer["message"] == "m1 and m2 cannot be the same"
    assert count(live, "maskings") == 0
