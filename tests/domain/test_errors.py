from __future__ import annotations

from callmask.domain import errors
from callmask.domain.errors import Code, MaskingError


def _classes() -> list[type[MaskingError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, MaskingError) and value is not MaskingError
    ]


def test_every_error_code_has_exactly_one_class() -> None:
    codes = [cls.code for cls in _classes()]
    assert sorted(codes) == sorted(code for code in Code if code is not Code.OK)


def test_vendor_messages_are_kept_verbatim() -> None:
    assert errors.PoolExhausted().detail == "Masking No not available"
    assert errors.SameNumbers().detail == "m1 and m2 cannot be the same"
    assert errors.InvalidRequestData().detail == "Invalid Request Data"
