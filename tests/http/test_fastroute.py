"""The route fast path reads a query string exactly as Starlette's router would."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from callmask.http.fastroute import query

# Query strings made of the characters that matter: separators, escapes, plus, and text.
_PIECES = st.sampled_from(["&", "=", "%", "%2B", "%2b", "+", "%41", "%zz", "%e2%82%ac", "%ff"])
_TEXT = st.text(alphabet=st.characters(codec="latin-1"), max_size=6)
_QUERIES = st.lists(st.one_of(_PIECES, _TEXT), max_size=12).map("".join)


@settings(max_examples=1500, deadline=None)
@given(text=_QUERIES)
def test_query_matches_starlettes_reading(text: str) -> None:
    raw = text.encode("latin-1")
    assert query(raw) == dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def test_query_examples() -> None:
    assert query(b"caller=%2B919876543210&mask=%2B918040000000") == {
        "caller": "+919876543210",
        "mask": "+918040000000",
    }
    assert query(b"caller=+91 98&mask") == {"caller": " 91 98", "mask": ""}
    assert query(b"a=1&a=2&&b=") == {"a": "2", "b": ""}
    assert query(b"") == {}
