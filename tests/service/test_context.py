"""The one mapping of storage failures to DeepCall's 1010."""

from __future__ import annotations

import pytest

from callmask.domain.errors import Code, DatabaseUnavailable
from callmask.service.context import storage_failures
from callmask.storage.base import PairTaken, StorageUnavailable, WriteFailed


@pytest.mark.parametrize("failure", [StorageUnavailable("down"), WriteFailed("refused")])
def test_an_outage_or_a_refused_write_answers_1010(failure: Exception) -> None:
    with pytest.raises(DatabaseUnavailable) as raised, storage_failures():
        raise failure
    assert raised.value.code == Code.DATABASE_UNAVAILABLE
    assert raised.value.__cause__ is failure


def test_a_read_path_maps_only_the_kinds_it_names() -> None:
    with pytest.raises(DatabaseUnavailable), storage_failures(StorageUnavailable):
        raise StorageUnavailable("down")
    with pytest.raises(WriteFailed), storage_failures(StorageUnavailable):
        raise WriteFailed("refused")


def test_other_errors_and_success_pass_through_unchanged() -> None:
    # A lost race is the use case's to retry, not an outage.
    with pytest.raises(PairTaken), storage_failures():
        raise PairTaken()
    with storage_failures():
        done = True
    assert done
