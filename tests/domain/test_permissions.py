from __future__ import annotations

import pytest

from callmask.domain.errors import InvalidParameters
from callmask.domain.permissions import (
    CLIENT_DEFAULT,
    Permission,
    loaded,
    parse_permissions,
    stored,
)


def test_names_parse_in_any_case_comma_or_space_separated() -> None:
    assert parse_permissions(["list_call_log, SET_MASKING", "List_Masking"]) == {
        Permission.LIST_CALL_LOG,
        Permission.SET_MASKING,
        Permission.LIST_MASKING,
    }


def test_an_unknown_name_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidParameters, match="LIST_CALL_LOG"):
        parse_permissions(["LIST_EVERYTHING"])


def test_stored_form_is_sorted_and_reads_back() -> None:
    text = stored(CLIENT_DEFAULT)
    assert text == "LIST_MASKING,LIST_WEBHOOK_LOG,SET_MASKING"
    assert loaded(text) == CLIENT_DEFAULT
    assert loaded("") == frozenset()


def test_a_stored_name_this_version_does_not_know_is_ignored() -> None:
    assert loaded("SET_MASKING,FUTURE_THING") == {Permission.SET_MASKING}


def test_the_call_log_is_not_granted_by_default() -> None:
    assert Permission.LIST_CALL_LOG not in CLIENT_DEFAULT
    assert Permission.SET_MASKING in CLIENT_DEFAULT
