"""Errors that reach a client, each carrying its DeepCall code."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class Code(IntEnum):
    """The DeepCall codes callmask answers with (200 is success)."""

    OK = 200
    INVALID_PARAMETERS = 1000
    SOMETHING_WENT_WRONG = 1009
    DATABASE_UNAVAILABLE = 1010
    INVALID_TOKEN = 1014
    PERMISSION_DENIED = 1015
    TOO_MANY_REQUESTS = 1029
    INVALID_REQUEST_DATA = 1047
    SAME_NUMBERS = 1501
    EXPIRY_NOT_INTEGER = 1502
    ALREADY_MASKED = 1503
    NOT_INSERTED = 1504
    POOL_EXHAUSTED = 1505


class MaskingError(Exception):
    """Base of every error a client sees; the message may be made more precise per instance."""

    code: ClassVar[Code] = Code.SOMETHING_WENT_WRONG
    message: ClassVar[str] = "Something went wrong"
    # The message is the vendor's own text for the code (1501-1505), which clients match on:
    # it is answered exactly so, and a more precise detail goes beside it, not in its place.
    vendor_worded: ClassVar[bool] = False

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.message
        super().__init__(self.detail)


class InvalidParameters(MaskingError):
    code = Code.INVALID_PARAMETERS
    message = "Invalid parameters"


class SomethingWentWrong(MaskingError):
    code = Code.SOMETHING_WENT_WRONG
    message = "Something went wrong"


class DatabaseUnavailable(MaskingError):
    code = Code.DATABASE_UNAVAILABLE
    message = "Error in DB connect"


class InvalidToken(MaskingError):
    code = Code.INVALID_TOKEN
    message = "Invalid token"


class PermissionDenied(MaskingError):
    code = Code.PERMISSION_DENIED
    message = "Permission denied"


class InvalidRequestData(MaskingError):
    code = Code.INVALID_REQUEST_DATA
    message = "Invalid Request Data"


class SameNumbers(MaskingError):
    code = Code.SAME_NUMBERS
    vendor_worded = True
    message = "m1 and m2 cannot be the same"


class ExpiryNotInteger(MaskingError):
    code = Code.EXPIRY_NOT_INTEGER
    vendor_worded = True
    message = "Expiry must be an integer value"


class AlreadyMasked(MaskingError):
    code = Code.ALREADY_MASKED
    vendor_worded = True
    message = (
        "Your masking request could not be expired until now. So you cannot make another request"
    )


class NotInserted(MaskingError):
    code = Code.NOT_INSERTED
    vendor_worded = True
    message = "Masking could not be inserted"


class PoolExhausted(MaskingError):
    code = Code.POOL_EXHAUSTED
    vendor_worded = True
    # Exactly the vendor's sample response text; clients may match on it.
    message = "Masking No not available"


class TooManyRequests(MaskingError):
    """A rate limit or a failed-authentication lockout; answered HTTP 429 with Retry-After.

    DeepCall publishes no code for this; 1029 is callmask's own.
    """

    code = Code.TOO_MANY_REQUESTS
    message = "Too many requests"

    def __init__(self, detail: str | None = None, retry_after_s: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s
