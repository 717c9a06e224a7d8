"""The README's webhook verification snippet, run as printed against a real delivery."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from callmask.config import Settings
from tests.receiver import Receiver
from tests.support import A, B, Clock, Live, set_webhook

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def clock() -> Clock:
    # The snippet checks the timestamp against the real time.
    return Clock(time.time())


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, sweep_interval_seconds=3600, webhook_poll_seconds=0.05)


def _snippet() -> Callable[..., bool]:
    found = re.search(r"```python\n(.*?def verify_callmask.*?)```", README.read_text(), re.S)
    assert found is not None, "README has no verify_callmask snippet"
    namespace: dict[str, Any] = {}
    exec(found.group(1), namespace)
    verify: Callable[..., bool] = namespace["verify_callmask"]
    return verify


def test_the_readme_snippet_accepts_a_delivery_and_refuses_forgeries(live: Live) -> None:
    verify = _snippet()
    with Receiver().running() as receiver:
        secret = set_webhook(live, "acme", receiver.url)
        live.set(m1=A, m2=B)
        receiver.wait_for(lambda r: len(r.got()) == 1)
    [got] = receiver.got()
    headers = httpx.Headers(got.headers)  # case-insensitive, as web frameworks give them
    assert verify(secret, headers, got.body)
    assert not verify(secret, headers, got.body.replace(b'"acme"', b'"evil"'))
    assert not verify("whsec_not-the-secret", headers, got.body)
    stale = httpx.Headers({**got.headers, "x-callmask-timestamp": str(int(time.time()) - 301)})
    assert not verify(secret, stale, got.body)
