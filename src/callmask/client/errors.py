"""One exception class per documented code, each carrying the server's code, message and detail."""

from __future__ import annotations

from typing import ClassVar

from callmask.domain.errors import Code


class CallmaskError(Exception):
    """Any error answer; `message` is the server's own (1000 names the field at fault), `detail`
    what the server adds beside the vendor's fixed words of 1501-1505 (else None)."""

    code: ClassVar[int] = Code.SOMETHING_WENT_WRONG

    def __init__(self, message: str, detail: str | None = None, answer_code: int | None = None):
        super().__init__(f"{answer_code or self.code}: {detail or message}")
        self.message = message
        self.detail = detail
        # The code as answered: the class's own, except for UnexpectedAnswer and unknown codes.
        self.answer_code = answer_code if answer_code is not None else self.code


class InvalidParameters(CallmaskError):
    code = Code.INVALID_PARAMETERS


class SomethingWentWrong(CallmaskError):
    code = Code.SOMETHING_WENT_WRONG


class DatabaseUnavailable(CallmaskError):
    code = Code.DATABASE_UNAVAILABLE


class InvalidToken(CallmaskError):
    code = Code.INVALID_TOKEN


class PermissionDenied(CallmaskError):
    code = Code.PERMISSION_DENIED


class TooManyRequests(CallmaskError):
    """HTTP 429: a rate limit or a failed-authentication lockout; wait `retry_after_s`."""

    code = Code.TOO_MANY_REQUESTS

    def __init__(
        self,
        message: str,
        detail: str | None = None,
        answer_code: int | None = None,
        retry_after_s: float = 1.0,
    ):
        super().__init__(message, detail, answer_code)
        self.retry_after_s = retry_after_s


class InvalidRequestData(CallmaskError):
    code = Code.INVALID_REQUEST_DATA


class SameNumbers(CallmaskError):
    code = Code.SAME_NUMBERS


class ExpiryNotInteger(CallmaskError):
    code = Code.EXPIRY_NOT_INTEGER


class AlreadyMasked(CallmaskError):
    code = Code.ALREADY_MASKED


class NotInserted(CallmaskError):
    code = Code.NOT_INSERTED


class PoolExhausted(CallmaskError):
    code = Code.POOL_EXHAUSTED


class UnexpectedAnswer(CallmaskError):
    """Not callmask's JSON envelope (a proxy's 502 page, say); `status` is the HTTP status."""

    code = 0

    def __init__(self, message: str, status: int):
        super().__init__(message, None, 0)
        self.status = status


BY_CODE: dict[int, type[CallmaskError]] = {
    cls.code: cls
    for cls in (
        InvalidParameters,
        SomethingWentWrong,
        DatabaseUnavailable,
        InvalidToken,
        PermissionDenied,
        TooManyRequests,
        InvalidRequestData,
        SameNumbers,
        ExpiryNotInteger,
        AlreadyMasked,
        NotInserted,
        PoolExhausted,
    )
}
