"""Each error the server answers raises its own class, carrying code, message and detail:
provoked for real on the live server, through the blocking and the asyncio client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from callmask.client import (
    NEVER,
    AlreadyMasked,
    AsyncClient,
    CallmaskError,
    Client,
    ExpiryNotInteger,
    InvalidParameters,
    InvalidToken,
    PermissionDenied,
    PoolExhausted,
    SameNumbers,
    TooManyRequests,
    errors,
)
from callmask.domain.errors import Code
from tests.support import DID0, A, B, C, D, E, Live, limits


@dataclass(frozen=True)
class Case:
    error: type[CallmaskError]
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    before: Callable[[Client], object] = lambda client: None
    # acme: the client's defaults (no LIST_CALL_LOG); acme-ops: every permission; nobody: a
    # wrong token
    user: str = "acme"
    words: str = ""  # in the message
    detail: str | None = None


def pool_full(client: Client) -> None:
    for other in (B, C, D):
        client.set(A, other)


CASES = {
    "1501": Case(SameNumbers, "set", (A, "09876543210"), words="m1 and m2 cannot be the same"),
    "1502": Case(
        ExpiryNotInteger,
        "set",
        (A, B),
        {"expiry_duration": "abc"},
        words="Expiry must be an integer value",
        detail="expiry_duration must be an integer value",
    ),
    "1503": Case(AlreadyMasked, "set", (B, A), before=lambda c: c.set(A, B), words="expired"),
    "1505": Case(PoolExhausted, "set", (A, E), before=pool_full, words="Masking No not available"),
    "1014": Case(InvalidToken, "get", (), {"masking_id": "x"}, user="nobody"),
    "1015": Case(PermissionDenied, "masklist", words="LIST_CALL_LOG"),
    "1000-unset": Case(InvalidParameters, "unset", (), {"mask": DID0}),
    "1000-recording": Case(
        InvalidParameters, "recording", ("rec_nope",), user="acme-ops", words="no recording"
    ),
}


def token(live: Live, analyst: str, user: str) -> str:
    return {"acme": live.client_token, "acme-ops": analyst}.get(user, "not-the-token")


def check(raised: CallmaskError, case: Case) -> None:
    assert type(raised) is case.error
    assert raised.code == raised.answer_code == case.error.code
    assert case.words in raised.message
    assert raised.detail == case.detail


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_error_raises_its_class(live: Live, analyst: str, case: Case) -> None:
    with Client(live.url, user_id="acme", token=live.client_token) as client:
        case.before(client)
    with Client(live.url, user_id=case.user, token=token(live, analyst, case.user)) as client:
        with pytest.raises(CallmaskError) as raised:
            getattr(client, case.method)(*case.args, **case.kwargs)
    check(raised.value, case)


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_each_error_raises_its_class_from_the_async_client(
    live: Live, analyst: str, case: Case
) -> None:
    with Client(live.url, user_id="acme", token=live.client_token) as client:
        case.before(client)
    async with AsyncClient(
        live.url, user_id=case.user, token=token(live, analyst, case.user)
    ) as client:
        with pytest.raises(CallmaskError) as raised:
            await getattr(client, case.method)(*case.args, **case.kwargs)
    check(raised.value, case)


@limits(rate_limit_account_per_second=0.5, rate_limit_account_burst=1)
def test_a_rate_limit_raises_too_many_requests_with_its_retry_after(live: Live) -> None:
    with Client(live.url, user_id="acme", token=live.client_token, retry=NEVER) as client:
        client.set(A, B)
        with pytest.raises(TooManyRequests) as raised:
            client.set(A, C)
    assert raised.value.code == Code.TOO_MANY_REQUESTS and raised.value.retry_after_s >= 1


def test_each_code_has_exactly_one_class() -> None:
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, CallmaskError)
        and cls is not CallmaskError
        and cls.code in set(Code)
    ]
    assert sorted(cls.code for cls in classes) == sorted(set(Code) - {Code.OK})
    assert errors.BY_CODE == {cls.code: cls for cls in classes}
