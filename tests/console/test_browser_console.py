"""The console in headless Chromium: sign-in, every page, a search, an unset, a pool change, a
CSV export and a recording, each checked against what the API answers; screenshots of each page
(docs/console.md shows them: CALLMASK_SCREENSHOTS=docs/console pytest tests/console)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from callmask.bootstrap import build_services
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.storage.sqlite import SqliteStore
from tests.console.conftest import screenshot
from tests.support import EPOCH, Live, add_user, record_calls, recorded_call, set_webhook

HUB = "+919800000100"
HOUR = 3600.0


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The tests' settings, with a recordings folder and webhook retries out of the way."""
    return dataclasses.replace(
        settings, recordings_dir=str(tmp_path / "recordings"), webhook_retry_seconds=3600
    )


def _api(live: Live, path: str, token: str, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = live.post(
        path, json={"userId": "acme-admin", "token": token, **params}
    ).json()
    return answer


def _history(live: Live, token: str) -> dict[str, Any]:
    """A day of an account's life: a hub (a restaurant) masked with customers hour by hour,
    its maskings ending, a 1505 when it holds the whole pool, and calls on the maskings."""
    seen: dict[str, Any] = {"refusals": 0, "maskings": []}
    events: list[CallEvent] = []
    for hour in range(20):
        live.clock.now = EPOCH - (20 - hour) * HOUR
        customers = 1 + hour % 3 + (hour // 8)
        for n in range(customers):
            customer = f"+9198{hour:04d}{n:04d}"
            answer = _api(
                live, "/api/v2/Masking/set", token, m1=HUB, m2=customer, expiry_duration=50 + 30 * n
            )
            if answer["code"] == 1505:
                seen["refusals"] += 1
                continue
            assert answer["code"] == 200, answer
            seen["maskings"].append(answer)
            if (hour + n) % 2 == 0:
                start = int(live.clock.now * 1000) + 60_000 * (n + 1)
                call_id = f"call-{hour:02d}-{n}"
                mask = E164(answer["mask"])
                events.append(
                    CallEvent(
                        "start",
                        call_id,
                        start,
                        answer["maskingId"],
                        mask,
                        E164(customer),
                        E164(HUB),
                    )
                )
                if n % 3 == 2:
                    events.append(
                        CallEvent("failed", call_id, start + 9000, duration_s=0, sip_status=486)
                    )
                else:
                    talk = 20 + 47 * ((hour * 7 + n) % 9)
                    events.append(CallEvent("answer", call_id, start + 4000, sip_status=200))
                    events.append(
                        CallEvent(
                            "end",
                            call_id,
                            start + 4000 + talk * 1000,
                            duration_s=talk,
                            sip_status=200,
                        )
                    )
    live.clock.now = EPOCH
    record_calls(live, *events)
    return seen


def _recording(live: Live, masking: dict[str, Any]) -> tuple[str, bytes]:
    """A recorded call on the masking whose WAV (a real tone, so the player can play it) is
    ready."""
    wav = io.BytesIO()
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    soundfile.write(wav, tone, 8000, format="WAV", subtype="PCM_16")
    start = int((EPOCH - 120) * 1000)
    return recorded_call(live, masking, "call-recorded", start, wav.getvalue())


def _pool(live: Live) -> list[str]:
    async def read() -> list[str]:
        store = SqliteStore.from_url(live.settings.database_url)
        try:
            numbers = await build_services(store, live.settings, live.clock).pool.numbers("acme")
            return [n.number for n in numbers]
        finally:
            await store.close()

    return asyncio.run(read())


def _wait(driver: WebDriver, check: Callable[[WebDriver], Any], seconds: float = 10) -> Any:
    return WebDriverWait(driver, seconds).until(check)


def _text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def _go(driver: WebDriver, link_id: str) -> None:
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, link_id).click()
    _wait(driver, lambda d: old != d.find_element(By.TAG_NAME, "html"))


def _drawn(driver: WebDriver, chart_id: str) -> None:
    _wait(
        driver,
        lambda d: d.execute_script(
            "var c = document.querySelector('#' + arguments[0] + ' canvas');"
            " return c !== null && c.width > 0;",
            chart_id,
        ),
    )


def _submit(driver: WebDriver, button_id: str) -> None:
    _go(driver, button_id)


def test_an_operator_walks_every_page_in_chromium(
    live: Live, browser: WebDriver, tmp_path: Path
) -> None:
    token = add_user(live, "acme-admin", "acme", *Permission)
    history = _history(live, token)
    assert history["refusals"] >= 1  # the hub met the pool: the chart shows where
    recorded = history["maskings"][-1]
    recording_id, audio = _recording(live, recorded)
    set_webhook(live, "acme", "http://127.0.0.1:9/unreachable")
    _api(live, "/api/v2/Masking/set", token, m1="+919800000201", m2="+919800000202")

    # Sign-in: a page of the console sends the browser to it.
    browser.get(live.url + "/console/maskings")
    _wait(browser, lambda d: d.current_url.endswith("/console/signin"))
    screenshot(browser, "signin")
    browser.find_element(By.ID, "userId").send_keys("acme-admin")
    browser.find_element(By.ID, "token").send_keys(token)
    _submit(browser, "signin")

    # Overview: the figures are the API's, and the pressure chart is drawn.
    assert browser.current_url.endswith("/console")
    _drawn(browser, "pressure-chart")
    active = _api(live, "/api/v2/Masking/list", token, status="active", limit=500)
    assert int(_text(browser, "live-maskings")) == active["count"]
    assert int(_text(browser, "pool-size")) == len(live.pool)
    assert int(_text(browser, "refusals-24h")) == history["refusals"]
    figures = json.loads(browser.find_element(By.ID, "pressure-data").get_attribute("textContent"))
    assert max(v for v in figures["busiest"] if v is not None) == len(live.pool)
    assert int(_text(browser, "peak")) == len(live.pool)
    assert sum(v or 0 for v in figures["refusals"]) == history["refusals"]
    screenshot(browser, "overview")

    # Maskings: a search by the hub's number lists what the API lists.
    _go(browser, "nav-maskings")
    browser.find_element(By.ID, "q").send_keys(HUB)
    _submit(browser, "search")
    rows = browser.find_elements(By.CSS_SELECTOR, "#maskings tbody tr[data-masking-id]")
    listed = _api(live, "/api/v2/Masking/list", token, party=HUB, limit=50)
    assert [r.get_attribute("data-masking-id") for r in rows] == [
        m["maskingId"] for m in listed["maskings"]
    ]
    screenshot(browser, "maskings")

    # One masking with its calls, then ended from the page.
    browser.find_element(By.LINK_TEXT, recorded["maskingId"]).click()
    _wait(browser, lambda d: d.find_elements(By.ID, "masking-id"))
    assert _text(browser, "masking-status") == "active"
    assert _text(browser, "masking-m2") == recorded["m2"]
    assert browser.find_elements(By.CSS_SELECTOR, "#masking-calls audio")
    screenshot(browser, "masking")
    _submit(browser, "unset")
    assert _text(browser, "done") == "The masking was ended."
    assert _text(browser, "masking-status").startswith("ended")
    got = _api(live, "/api/v2/Masking/get", token, maskingId=recorded["maskingId"])
    assert got["maskings"][0]["status"] == "ended"

    # Calls: the report's count and rows, three charts, the player, the CSV.
    _go(browser, "nav-calls")
    for chart in ("calls-chart", "rate-chart", "duration-chart"):
        _drawn(browser, chart)
    report = _api(live, "/api/v2/callreport/masklist", token, limit=500)
    assert int(_text(browser, "total-calls")) == report["count"]
    answered = sum(1 for c in report["calls"] if c["answerTime"] is not None)
    assert int(_text(browser, "total-answered")) == answered
    shown = [
        r.get_attribute("data-call-id")
        for r in browser.find_elements(By.CSS_SELECTOR, "#calls tbody tr[data-call-id]")
    ]
    assert shown == [c["callId"] for c in report["calls"]][: len(shown)] and shown
    player = browser.find_element(
        By.CSS_SELECTOR, f"audio[src='/console/recordings/{recording_id}']"
    )
    # The browser loads and decodes the recording through its session.
    browser.execute_script("arguments[0].preload = 'auto'; arguments[0].load();", player)
    _wait(browser, lambda d: d.execute_script("return arguments[0].readyState >= 1", player))
    assert abs(float(browser.execute_script("return arguments[0].duration", player)) - 1.0) < 0.05
    size = browser.execute_script(
        "return fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => b.byteLength);",
        player.get_attribute("src"),
    )
    assert size == len(audio)
    screenshot(browser, "calls")
    csv_link = browser.find_element(By.ID, "csv").get_attribute("href")
    fetched = browser.execute_script(
        "return fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text());", csv_link
    )
    expected = httpx.post(
        live.url + "/api/v2/callreport/masklist",
        json={"userId": "acme-admin", "token": token, "format": "csv"},
    ).text
    assert fetched == expected and fetched.count("\r\n") == report["count"] + 1

    # Numbers: add two through the form; the pool is what the store holds.
    _go(browser, "nav-numbers")
    browser.find_element(By.ID, "add-numbers").send_keys("+918040000003\n+918040000004")
    _submit(browser, "add")
    assert _text(browser, "done") == "Numbers were added to the pool."
    pool = _pool(live)
    assert len(pool) == len(live.pool) + 2 and "+918040000004" in pool
    rows = browser.find_elements(By.CSS_SELECTOR, "#numbers tbody tr[data-number]")
    assert sorted(r.get_attribute("data-number") for r in rows) == sorted(pool)
    screenshot(browser, "numbers")

    # Webhooks: the delivery log as the API lists it.
    deadline = time.monotonic() + 10
    while not (deliveries := _api(live, "/api/v2/webhooks/deliveries", token))["deliveries"]:
        assert time.monotonic() < deadline, "no webhook delivery was attempted"
        time.sleep(0.1)
    _go(browser, "nav-webhooks")
    rows = browser.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr")
    assert len(rows) >= len(deliveries["deliveries"])
    assert _text(browser, "webhook-url") == "http://127.0.0.1:9/unreachable"
    screenshot(browser, "webhooks")


def test_a_form_stripped_of_its_csrf_token_is_refused_in_the_browser(
    live: Live, browser: WebDriver
) -> None:
    token = add_user(live, "acme-admin", "acme", *Permission)
    masking = _api(live, "/api/v2/Masking/set", token, m1="+919800000301", m2="+919800000302")
    browser.get(live.url + "/console/signin")
    browser.find_element(By.ID, "userId").send_keys("acme-admin")
    browser.find_element(By.ID, "token").send_keys(token)
    _submit(browser, "signin")
    browser.get(f"{live.url}/console/maskings/{masking['maskingId']}")
    browser.execute_script("document.querySelector('#unset-form input[name=csrf]').remove()")
    _submit(browser, "unset")
    assert _text(browser, "problem") == "Refused"
    got = _api(live, "/api/v2/Masking/get", token, maskingId=masking["maskingId"])
    assert got["maskings"][0]["status"] == "active"
