"""A Python client of callmask's API, blocking (Client) and asyncio (AsyncClient), on httpx.

It imports nothing of the server but the table of codes, so an application that only calls
callmask needs none of the server's parts at run time.
"""

from __future__ import annotations

from callmask.client.aio import AsyncClient
from callmask.client.errors import (
    AlreadyMasked,
    CallmaskError,
    DatabaseUnavailable,
    ExpiryNotInteger,
    InvalidParameters,
    InvalidRequestData,
    InvalidToken,
    NotInserted,
    PermissionDenied,
    PoolExhausted,
    SameNumbers,
    SomethingWentWrong,
    TooManyRequests,
    UnexpectedAnswer,
)
from callmask.client.models import Call, Delivery, Masking, Page, Recording, Ssid
from callmask.client.operations import CallFilters, DeliveryFilters, MaskingFilters
from callmask.client.retry import NEVER, Retry
from callmask.client.sync import Client

__all__ = [
    "NEVER",
    "AlreadyMasked",
    "AsyncClient",
    "Call",
    "CallFilters",
    "CallmaskError",
    "Client",
    "DatabaseUnavailable",
    "Delivery",
    "DeliveryFilters",
    "ExpiryNotInteger",
    "InvalidParameters",
    "InvalidRequestData",
    "InvalidToken",
    "Masking",
    "MaskingFilters",
    "NotInserted",
    "Page",
    "PermissionDenied",
    "PoolExhausted",
    "Recording",
    "Retry",
    "SameNumbers",
    "SomethingWentWrong",
    "Ssid",
    "TooManyRequests",
    "UnexpectedAnswer",
]
