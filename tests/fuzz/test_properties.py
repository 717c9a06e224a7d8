"""Properties of the parsers every request goes through: any input, one of the documented
outcomes, never another exception."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import phonenumbers
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from callmask.domain.errors import ExpiryNotInteger, InvalidParameters, InvalidRequestData
from callmask.domain.masking import ExpiryRules, expiry_for_set, expiry_for_unset
from callmask.domain.numbers import normalise
from callmask.domain.paging import Cursor
from callmask.domain.webhooks import delivery_query
from callmask.http.body import parse_body
from tests.fuzz.harness import CURSORS, EXAMPLES, encode_cursor, fuzz_settings

# Property tests are cheap (microseconds an example): several times the endpoint budget.
PROPERTY_EXAMPLES = EXAMPLES * 4
E164_FORM = re.compile(r"\+[1-9][0-9]{6,14}")

# -- JSON values, as orjson hands them to the use cases --------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.from_regex(r"[+0 ]?[0-9 ()-]{1,45}", fullmatch=True),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


# -- the body parser ------------------------------------------------------------------------


def _json_text(value: Any) -> bytes:
    # The standard library writes integers of any size, as a client may send them.
    return json.dumps(value).encode()


BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    JSON.map(_json_text),
    st.dictionaries(st.text(max_size=10), JSON, max_size=5).map(_json_text),
    # Form fields, real or nearly so.
    st.lists(
        st.tuples(st.text("abz=&%+ ", max_size=6), st.text("09az=&%+ ", max_size=6)),
        max_size=4,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()),
)


@fuzz_settings(PROPERTY_EXAMPLES)
@given(body=BODIES)
@example(body=b"")
@example(body=b"   ")
@example(body=b'{"m1": 1e999}')
@example(body=b"\xff\xfe")
@example(body=b"[" * 10_000)
@example(body=b'{"a":' * 5_000)
@example(body=b"m1=%ff")
@example(body=b"1" * 5_000)
def test_body_is_a_dict_or_1047(body: bytes) -> None:
    try:
        parsed = parse_body(body)
    except InvalidRequestData:
        return
    assert isinstance(parsed, dict)
    assert all(isinstance(key, str) for key in parsed)


# What orjson reads back exactly: integers up to 64 bits (wider ones it reads as floats).
EXACT_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
)
EXACT_JSON = st.recursive(
    EXACT_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@fuzz_settings(PROPERTY_EXAMPLES)
@given(
    fields=st.dictionaries(st.text(max_size=10), EXACT_JSON, max_size=5),
    indent=st.sampled_from([None, 0, 2]),
    padding=st.sampled_from(["", " ", "\n", "\r\n\t "]),
)
@example(
    fields={"userId": "acme", "m1": 919876543210, "m2": "+91 98123 45678", "expiry_duration": 60},
    indent=None,
    padding="",
)
def test_a_json_object_body_is_read_as_its_fields(
    fields: dict[str, Any], indent: int | None, padding: str
) -> None:
    # Unquoted numbers, any layout, blank lines around: as the vendor's samples send it.
    body = padding + json.dumps(fields, indent=indent) + padding
    assert parse_body(body.encode()) == fields


@fuzz_settings(PROPERTY_EXAMPLES)
@given(fields=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5))
@example(fields={"userId": "acme", "m1": "+919876543210", "expiry_time": "1767225600"})
def test_a_form_body_is_read_as_its_fields(fields: dict[str, str]) -> None:
    assert parse_body(urlencode(fields).encode()) == fields


# -- phone numbers --------------------------------------------------------------------------


@fuzz_settings(PROPERTY_EXAMPLES)
@given(value=JSON, region=st.sampled_from(["IN", "US", "GB", "ZZ", ""]))
@example(value=float("inf"), region="IN")
@example(value=float("nan"), region="IN")
@example(value=10**400, region="IN")
@example(value=-919876543210, region="IN")
@example(value="+" + "9" * 39, region="IN")
@example(value="\x00919876543210", region="IN")
@example(value="９１９８７６５４３２１０", region="IN")  # fullwidth digits
def test_number_is_e164_or_1000(value: object, region: str) -> None:
    try:
        number = normalise(value, "m1", region)
    except InvalidParameters as error:
        assert "m1" in error.detail
        return
    assert E164_FORM.fullmatch(number), number
    assert normalise(number, "m1", region) == number


@st.composite
def _valid_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    """Real numbers of every region phonenumbers knows, with random subscriber digits."""
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    digits = draw(st.text("0123456789", min_size=0, max_size=4))
    sample = phonenumbers.example_number_for_type(
        region, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(region)
    assume(sample is not None)
    # With its leading zeros (Italy's 02..., Gabon's 06...): they are part of the number.
    national = phonenumbers.national_significant_number(sample)
    candidate = national[: len(national) - len(digits)] + digits
    parsed = phonenumbers.parse(f"+{sample.country_code}{candidate}")
    assume(phonenumbers.is_valid_number(parsed))
    return parsed


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_e164() -> st.SearchStrategy[str]:
    return _valid_numbers().map(_e164)


@fuzz_settings(PROPERTY_EXAMPLES)
@given(number=_valid_e164(), region=st.sampled_from(["IN", "US", "GB"]))
def test_valid_e164_round_trips_in_every_spelling(number: str, region: str) -> None:
    assert normalise(number, "m1", region) == number
    assert normalise(f"  {number} ", "m1", region) == number
    if number.startswith("+91"):  # bare digits are read in the region, as +91 here
        assert normalise(int(number[1:]), "m1", "IN") == number


@fuzz_settings(PROPERTY_EXAMPLES)
@given(number=_valid_numbers(), default=st.sampled_from(["IN", "US", "GB", "ZZ", ""]))
@example(number=phonenumbers.parse("+919876543210"), default="IN")
@example(number=phonenumbers.parse("+390212345678"), default="IN")  # Milan: a leading 0
def test_a_valid_number_is_accepted_in_the_spellings_clients_send(
    number: phonenumbers.PhoneNumber, default: str
) -> None:
    """The companion of test_number_is_e164_or_1000: valid numbers are accepted, not 1000."""
    expected = _e164(number)
    home = phonenumbers.region_code_for_number(number)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    # With a +: read the same whatever the account's default region ("+91 98765 43210").
    assert normalise(expected, "m1", default) == expected
    assert normalise(f" {expected}\t", "m1", default) == expected
    assert normalise(international, "m1", default) == expected
    # Without one: read in the default region ("098765 43210" with IN), as text or a bare
    # JSON integer (which has no leading zero to keep: Italy's numbers cannot be sent so).
    assert normalise(national, "m1", home) == expected
    if not number.italian_leading_zero:
        digits = int(phonenumbers.national_significant_number(number))
        assert normalise(digits, "m1", home) == expected
        assert normalise(float(digits), "m1", home) == expected  # 9876543210.0 from a client
    if number.country_code == 91:
        assert normalise(int(expected[1:]), "m1", "IN") == expected  # 919876543210


@fuzz_settings(PROPERTY_EXAMPLES)
@given(subscriber=st.from_regex(r"[6-9][0-9]{9}", fullmatch=True))
@example(subscriber="9876543210")
def test_indian_mobile_spellings_agree(subscriber: str) -> None:
    spellings: list[object] = [
        "+91" + subscriber,
        "91" + subscriber,
        "0" + subscriber,
        subscriber,
        int("91" + subscriber),
        int(subscriber),
        f"+91 {subscriber[:5]} {subscriber[5:]}",
        f"0{subscriber[:5]} {subscriber[5:]}",
        f"+91-{subscriber[:5]}-{subscriber[5:]}",
        f"0091 {subscriber}",
    ]
    answers = set()
    for spelling in spellings:
        try:
            answers.add(normalise(spelling, "m1", "IN"))
        except InvalidParameters:
            answers.add(None)
    # Agreeing is not enough (all of them refused would agree): a number India's plan
    # allocates is accepted in every spelling, and one it does not in none.
    valid = phonenumbers.is_valid_number(phonenumbers.parse("+91" + subscriber))
    assert answers == ({"+91" + subscriber} if valid else {None}), (subscriber, answers)


# -- expiry ---------------------------------------------------------------------------------

RULES = ExpiryRules(default_minutes=1440, max_minutes=43200)
NOW_MS = 1_767_225_600_123  # a clock between whole seconds
CEILING_MS = -(-(NOW_MS + RULES.max_minutes * 60_000) // 1000) * 1000

EXPIRY_VALUES = st.one_of(
    JSON,
    st.integers(-(10**14), 10**14),
    st.integers(NOW_MS // 1000 - 10, NOW_MS // 1000 + RULES.max_minutes * 60 + 10),
    st.integers(NOW_MS - 10_000, CEILING_MS + 10_000),
    st.integers(-10, RULES.max_minutes + 10).map(str),
    st.datetimes(timezones=st.timezones()).map(lambda when: when.isoformat()),
    st.datetimes().map(lambda when: when.isoformat()),
)
# The answers an edge can get.
PAST = (InvalidParameters, "expiry_time is in the past")
BEYOND = (InvalidParameters, "expiry is beyond the maximum of 43200 minutes")
NOT_AN_INTEGER = (ExpiryNotInteger, "expiry_duration must be an integer value")
NOT_POSITIVE = (InvalidParameters, "expiry_duration must be a positive number of minutes")
NOW = NOW_MS  # unset: end the masking now
FIFTEEN_MINUTES = -(-(NOW_MS + 15 * 60_000) // 1000) * 1000

# Each edge with its exact answer from set as expiry_time, set as expiry_duration, unset as
# expiry_time and unset as expiry_duration.
EXPIRY_EDGES = [
    ("9999-12-31T23:59:59+00:00", BEYOND, NOT_AN_INTEGER, BEYOND, NOT_AN_INTEGER),
    ("0001-01-01T00:00:00+14:00", PAST, NOT_AN_INTEGER, NOW, NOT_AN_INTEGER),
    ("1" * 30, BEYOND, BEYOND, BEYOND, BEYOND),
    ("-" + "1" * 30, PAST, NOT_POSITIVE, NOW, NOW),
    (1e300, BEYOND, BEYOND, BEYOND, BEYOND),
    (-0.0, PAST, NOT_POSITIVE, NOW, NOW),
    # As a time, 15 is Unix second 15 (1970): long past.
    (" 15 ", PAST, FIFTEEN_MINUTES, NOW, FIFTEEN_MINUTES),
    ("+15", PAST, FIFTEEN_MINUTES, NOW, FIFTEEN_MINUTES),
    # Arabic-Indic digits: Python's int() reads any decimal digits, so today this is 15.
    # Pinned so that a change (refusing non-ASCII digits, say) is made on purpose.
    ("١٥", PAST, FIFTEEN_MINUTES, NOW, FIFTEEN_MINUTES),
]


@fuzz_settings(PROPERTY_EXAMPLES)
@given(
    expiry_time=st.one_of(st.none(), EXPIRY_VALUES), duration=st.one_of(st.none(), EXPIRY_VALUES)
)
def test_expiry_for_set_is_within_bounds_or_an_expiry_error(
    expiry_time: object, duration: object
) -> None:
    try:
        expires_ms = expiry_for_set(expiry_time, duration, NOW_MS, RULES)
    except (ExpiryNotInteger, InvalidParameters) as error:
        assert "expiry" in error.detail
        return
    assert isinstance(expires_ms, int)
    assert NOW_MS < expires_ms <= CEILING_MS


@fuzz_settings(PROPERTY_EXAMPLES)
@given(
    expiry_time=st.one_of(st.none(), EXPIRY_VALUES), duration=st.one_of(st.none(), EXPIRY_VALUES)
)
def test_expiry_for_unset_is_within_bounds_or_an_expiry_error(
    expiry_time: object, duration: object
) -> None:
    try:
        expires_ms = expiry_for_unset(expiry_time, duration, NOW_MS, RULES)
    except (ExpiryNotInteger, InvalidParameters) as error:
        assert "expiry" in error.detail
        return
    assert isinstance(expires_ms, int)
    assert NOW_MS <= expires_ms <= CEILING_MS


@pytest.mark.parametrize(
    ("value", "set_time", "set_duration", "unset_time", "unset_duration"), EXPIRY_EDGES
)
def test_expiry_edges_are_answered_with_their_exact_error_or_time(
    value: object,
    set_time: object,
    set_duration: object,
    unset_time: object,
    unset_duration: object,
) -> None:
    cases = [
        (expiry_for_set, value, None, set_time),
        (expiry_for_set, None, value, set_duration),
        (expiry_for_unset, value, None, unset_time),
        (expiry_for_unset, None, value, unset_duration),
    ]
    for rule, expiry_time, duration, expected in cases:
        where = (rule.__name__, "expiry_time" if expiry_time is not None else "expiry_duration")
        if isinstance(expected, int):
            assert rule(expiry_time, duration, NOW_MS, RULES) == expected, where
            assert NOW_MS <= expected <= CEILING_MS
            continue
        assert isinstance(expected, tuple)
        error, message = expected
        with pytest.raises(error) as raised:
            rule(expiry_time, duration, NOW_MS, RULES)
        assert raised.value.detail == message, where


# Valid times in the spellings clients send, each with the epoch milliseconds it stands for.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_SECOND = NOW_MS // 1000 + 1  # the first whole second after now


def _iso(ms: int, offset_minutes: int, style: str) -> str:
    when = (EPOCH + timedelta(milliseconds=ms)).astimezone(
        timezone(timedelta(minutes=offset_minutes))
    )
    if style == "milliseconds":
        return when.isoformat(timespec="milliseconds")
    text = when.isoformat()
    return text.replace("+00:00", "Z") if style == "zulu" else text


UNIX_SECONDS = st.integers(FIRST_SECOND, CEILING_MS // 1000).flatmap(
    lambda s: st.tuples(
        st.sampled_from([s, str(s), f" {s} ", f"+{s}", float(s)]), st.just(s * 1000)
    )
)
UNIX_MILLISECONDS = st.integers(NOW_MS + 1, CEILING_MS).flatmap(
    lambda ms: st.tuples(st.sampled_from([ms, str(ms), f" {ms} ", float(ms)]), st.just(ms))
)
ISO_8601 = st.builds(
    lambda ms, offset, style: (_iso(ms, offset, style), ms),
    st.one_of(
        st.integers(NOW_MS + 1, CEILING_MS),
        st.integers(FIRST_SECOND, CEILING_MS // 1000).map(lambda s: s * 1000),
    ),
    st.integers(-14 * 60, 14 * 60),
    st.sampled_from(["python", "milliseconds", "zulu"]),
)
DURATION_SPELLINGS = st.integers(1, RULES.max_minutes).flatmap(
    lambda m: st.sampled_from([m, str(m), f" {m} ", f"+{m}", float(m)])
)


@fuzz_settings(PROPERTY_EXAMPLES)
@given(
    instant=st.one_of(UNIX_SECONDS, UNIX_MILLISECONDS, ISO_8601),
    duration=st.one_of(st.none(), DURATION_SPELLINGS),
)
@example(instant=(FIRST_SECOND, FIRST_SECOND * 1000), duration=None)
@example(instant=(str(CEILING_MS), CEILING_MS), duration=None)
@example(instant=("2026-01-01T05:30:01+05:30", FIRST_SECOND * 1000), duration="60")
def test_a_valid_expiry_time_is_accepted_as_that_instant(
    instant: tuple[object, int], duration: object
) -> None:
    """The companion of the two properties above: valid times are accepted, not refused."""
    spelled, expected_ms = instant
    # expiry_time wins over a valid expiry_duration sent with it.
    assert expiry_for_set(spelled, duration, NOW_MS, RULES) == expected_ms
    assert expiry_for_unset(spelled, duration, NOW_MS, RULES) == expected_ms


@fuzz_settings(PROPERTY_EXAMPLES)
@given(
    past_ms=st.integers(0, NOW_MS),
    spelling=st.sampled_from(["seconds", "milliseconds", "iso"]),
)
def test_unset_to_a_time_already_passed_ends_the_masking_now(past_ms: int, spelling: str) -> None:
    # Unix times are told apart by size: below 10**12 they are seconds.
    spelled: object = {
        "seconds": past_ms // 1000,
        "milliseconds": max(past_ms, 10**12),
        "iso": _iso(past_ms, 330, "python"),
    }[spelling]
    assert expiry_for_unset(spelled, None, NOW_MS, RULES) == NOW_MS
    with pytest.raises(InvalidParameters, match="in the past"):
        expiry_for_set(spelled, None, NOW_MS, RULES)


def test_no_expiry_means_the_default_for_set_and_now_for_unset() -> None:
    default_ms = -(-(NOW_MS + RULES.default_minutes * 60_000) // 1000) * 1000
    for blank in (None, ""):
        assert expiry_for_set(blank, blank, NOW_MS, RULES) == default_ms
        assert expiry_for_unset(blank, blank, NOW_MS, RULES) == NOW_MS


@fuzz_settings(PROPERTY_EXAMPLES)
@given(minutes=st.integers(1, RULES.max_minutes))
def test_a_valid_duration_ends_on_the_next_whole_second(minutes: int) -> None:
    expected_ms = -(-(NOW_MS + minutes * 60_000) // 1000) * 1000
    for spelled in (minutes, str(minutes), float(minutes), f" {minutes} ", f"+{minutes}"):
        expires_ms = expiry_for_set(None, spelled, NOW_MS, RULES)
        assert expires_ms == expected_ms
        assert expiry_for_unset(None, spelled, NOW_MS, RULES) == expected_ms


# -- cursors --------------------------------------------------------------------------------


@fuzz_settings(PROPERTY_EXAMPLES)
@given(cursor=CURSORS)
@example(cursor=encode_cursor("1", "9" * 30))  # was 1009: OverflowError binding the outbox id
@example(cursor=encode_cursor("1", "²"))  # was 1009: "²".isdigit(), int("²") fails
def test_delivery_cursor_is_a_64_bit_position_or_1000(cursor: str) -> None:
    try:
        query = delivery_query({"cursor": cursor}, "acme")
    except InvalidParameters:
        return
    after = query.page.after
    if after is None:
        assert cursor == "" or cursor.isspace()
        return
    assert -(2**63) <= after.sort_ms < 2**63
    assert 0 <= int(after.key) < 2**63


@fuzz_settings(PROPERTY_EXAMPLES)
@given(cursor=CURSORS)
def test_report_cursor_decodes_to_a_64_bit_time_or_1000(cursor: str) -> None:
    try:
        decoded = Cursor.decode(cursor)
    except InvalidParameters:
        return
    assert -(2**63) <= decoded.sort_ms < 2**63
    assert decoded.key


# Cursors as the service hands them out: the last record's time (epoch ms, which the decoder
# reads up to 16 digits) and its id (an outbox row id for deliveries; a call or masking id).
SORT_MS = st.one_of(st.integers(0, 2**42), st.integers(-(10**16) + 1, 10**16 - 1))


@fuzz_settings(PROPERTY_EXAMPLES)
@given(sort_ms=SORT_MS, delivery_id=st.integers(0, 2**63 - 1))
@example(sort_ms=1_767_225_600_123, delivery_id=2**63 - 1)  # the largest outbox id
def test_a_delivery_cursor_the_service_made_is_read_back_as_its_position(
    sort_ms: int, delivery_id: int
) -> None:
    """The companion of test_delivery_cursor_is_a_64_bit_position_or_1000."""
    made = Cursor(sort_ms, str(delivery_id))
    query = delivery_query({"cursor": made.encode()}, "acme")
    assert query.page.after == made


@fuzz_settings(PROPERTY_EXAMPLES)
# The keys it makes (masking ids, Call-IDs, delivery ids) never hold a control character (Cc):
# a decoded cursor that does answers 1000, like any text parameter.
@given(
    sort_ms=SORT_MS,
    key=st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40),
)
@example(sort_ms=1_767_225_600_123, key="sip-call-1@10.0.0.1:5060")  # a Call-ID with colons
@example(sort_ms=1_767_225_600_123, key="mk_01JH5Q7YJ4ZC")
def test_a_report_cursor_the_service_made_is_read_back_as_its_position(
    sort_ms: int, key: str
) -> None:
    """The companion of test_report_cursor_decodes_to_a_64_bit_time_or_1000."""
    made = Cursor(sort_ms, key)
    assert Cursor.decode(made.encode()) == made
