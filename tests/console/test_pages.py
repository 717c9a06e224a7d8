"""The console over HTTP on a real socket: sessions, CSRF, permissions, and one account's view.

The browser tests (test_browser_console.py) drive the same pages in Chromium; these check what
a browser cannot show as plainly: headers, cookies, refusals, and that nothing of another
account is ever in a page.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator

import httpx
import pytest

from callmask.bootstrap import create_app
from callmask.domain.permissions import Permission
from tests.support import Live, add_user, serving

ALL = tuple(Permission)


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


@contextlib.contextmanager
def sign_in(live: Live, **credentials: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as browser:
        form = browser.get("/console/signin")
        answer = browser.post("/console/signin", data={"csrf": _csrf(form), **credentials})
        assert answer.status_code == 303, answer.text[:500]
        assert answer.headers["location"] == "/console"
        yield browser


@pytest.fixture
def admin(live: Live) -> str:
    return add_user(live, "acme-admin", "acme", *ALL)


@pytest.fixture
def console(live: Live, admin: str) -> Iterator[httpx.Client]:
    with sign_in(live, userId="acme-admin", token=admin) as browser:
        yield browser


def test_signing_in_sets_an_httponly_samesite_strict_cookie_for_console_paths_only(
    live: Live, admin: str
) -> None:
    with httpx.Client(base_url=live.url) as browser:
        form = browser.get("/console/signin")
        answer = browser.post(
            "/console/signin", data={"csrf": _csrf(form), "userId": "acme-admin", "token": admin}
        )
    cookie = next(
        value
        for name, value in answer.headers.multi_items()
        if name == "set-cookie" and value.startswith("callmask_console=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP here; over HTTPS it is Secure (below)


def test_the_cookie_is_secure_when_a_trusted_proxy_says_the_browser_used_https(
    live: Live, admin: str
) -> None:
    # The live server trusts no proxy: the header alone does not make a Secure cookie...
    with httpx.Client(base_url=live.url) as browser:
        form = browser.get("/console/signin", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in form.headers["set-cookie"].lower()
    # ...from a proxy the operator lists, it does.
    settings = dataclasses.replace(live.settings, trusted_proxies="127.0.0.1")
    with serving(create_app(settings, clock=live.clock)) as url:
        form = httpx.get(url + "/console/signin", headers={"X-Forwarded-Proto": "https"})
        plain = httpx.get(url + "/console/signin")
    assert "; secure" in form.headers["set-cookie"].lower()
    assert "secure" not in plain.headers["set-cookie"].lower()


def test_a_sign_in_without_the_forms_token_is_refused_and_signs_no_one_in(
    live: Live, admin: str
) -> None:
    with httpx.Client(base_url=live.url) as browser:
        answer = browser.post("/console/signin", data={"userId": "acme-admin", "token": admin})
        assert answer.status_code == 403
        assert "callmask_console=" not in answer.headers.get("set-cookie", "")
        assert browser.get("/console").status_code == 303


def test_wrong_credentials_show_the_form_again_with_the_reason(live: Live) -> None:
    with httpx.Client(base_url=live.url) as browser:
        form = browser.get("/console/signin")
        answer = browser.post(
            "/console/signin", data={"csrf": _csrf(form), "userId": "acme", "token": "nope"}
        )
    assert answer.status_code == 401
    assert "Sign in" in answer.text and 'id="error"' in answer.text
    assert "Traceback" not in answer.text


def test_a_router_cannot_sign_in(live: Live) -> None:
    with httpx.Client(base_url=live.url) as browser:
        form = browser.get("/console/signin")
        answer = browser.post(
            "/console/signin",
            data={"csrf": _csrf(form), "userId": "sip", "token": live.router_token},
        )
    assert answer.status_code == 401
    assert "client users" in answer.text


def test_an_ssid_signs_in_and_signing_out_leaves_it_working_for_its_integration(
    live: Live,
) -> None:
    ssid = live.post("/api/v2/auth/ssid", json=live.auth()).json()["ssid"]
    with sign_in(live, ssid=ssid) as browser:
        page = browser.get("/console/maskings")
        assert page.status_code == 200
        answer = browser.post("/console/signout", data={"csrf": _csrf(page)})
        assert answer.status_code == 303
        assert browser.get("/console/maskings").status_code == 303  # signed out
    assert live.post("/api/v2/Masking/list", json={"ssid": ssid}).json()["code"] == 200


def test_signing_out_ends_the_ssid_the_console_made(live: Live, admin: str) -> None:
    with sign_in(live, userId="acme-admin", token=admin) as browser:
        kept = browser.cookies.get("callmask_console")
        assert kept is not None
        page = browser.get("/console/numbers")
        browser.post("/console/signout", data={"csrf": _csrf(page)})
    # The old cookie, replayed, no longer opens anything.
    with httpx.Client(base_url=live.url, cookies={"callmask_console": kept}) as replay:
        assert replay.get("/console/numbers").status_code == 303


def test_every_page_carries_the_security_headers(console: httpx.Client) -> None:
    for path in ("/console/signin", "/console/maskings", "/console/numbers", "/console/nowhere"):
        answer = console.get(path)
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
    assert console.get("/console/nowhere").status_code == 404


def test_a_page_without_a_session_goes_to_sign_in(live: Live) -> None:
    with httpx.Client(base_url=live.url) as browser:
        answer = browser.get("/console/maskings")
        assert answer.status_code == 303 and answer.headers["location"] == "/console/signin"
        browser.cookies.set("callmask_console", "c.not-an-ssid", path="/console")
        assert browser.get("/console/maskings").status_code == 303


def test_an_unset_without_the_csrf_token_is_refused_and_the_masking_stays(
    live: Live, console: httpx.Client
) -> None:
    masking = live.set(m1="+919876543210", m2="+919812345678")
    path = f"/console/maskings/{masking['maskingId']}"
    for data in ({}, {"csrf": "0" * 64}):
        answer = console.post(path + "/unset", data=data)
        assert answer.status_code == 403
        assert "security token" in answer.text
    listed = live.post("/api/v2/Masking/get", json=live.auth(maskingId=masking["maskingId"]))
    assert listed.json()["maskings"][0]["status"] == "active"
    answer = console.post(path + "/unset", data={"csrf": _csrf(console.get(path))})
    assert answer.status_code == 303
    listed = live.post("/api/v2/Masking/get", json=live.auth(maskingId=masking["maskingId"]))
    assert listed.json()["maskings"][0]["status"] == "ended"


def test_another_sites_form_cannot_sign_out_or_change_anything_without_the_token(
    live: Live, console: httpx.Client
) -> None:
    answer = console.post("/console/numbers/add", data={"numbers": "+918040000099"})
    assert answer.status_code == 403
    assert "+918040000099" not in console.get("/console/numbers").text
    assert console.post("/console/signout").status_code == 403
    assert console.get("/console/numbers").status_code == 200


def test_expiry_changes_through_the_form_as_unset_would_change_it(
    live: Live, console: httpx.Client
) -> None:
    masking = live.set(m1="+919876543210", m2="+919812345678")
    path = f"/console/maskings/{masking['maskingId']}"
    answer = console.post(path + "/expiry", data={"csrf": _csrf(console.get(path)), "minutes": 90})
    assert answer.status_code == 303
    shown = live.post("/api/v2/Masking/get", json=live.auth(maskingId=masking["maskingId"]))
    assert shown.json()["maskings"][0]["expiry_time"] == int(live.clock.now) + 90 * 60
    page = console.get(path)
    bad = console.post(path + "/expiry", data={"csrf": _csrf(page), "minutes": "soon"})
    assert bad.status_code == 400 and 'id="error"' in bad.text


def test_pool_changes_follow_the_clis_rules(live: Live, console: httpx.Client) -> None:
    csrf = _csrf(console.get("/console/numbers"))
    added = console.post("/console/numbers/add", data={"csrf": csrf, "numbers": "+918040000009"})
    assert added.status_code == 303
    assert "+918040000009" in console.get("/console/numbers").text
    # Another account's number: refused, and nothing of the batch is added.
    foreign = console.post(
        "/console/numbers/add", data={"csrf": csrf, "numbers": "+918040000010\n+918050000000"}
    )
    assert foreign.status_code == 400 and "another account" in foreign.text
    assert "+918040000010" not in console.get("/console/numbers").text
    bad = console.post("/console/numbers/add", data={"csrf": csrf, "numbers": "+91 abc"})
    assert bad.status_code == 400 and "number" in bad.text
    # A number carrying a live masking is removed only with force, which ends the masking.
    masking = live.set(m1="+919876543210", m2="+919812345678")
    held = {"csrf": csrf, "numbers": masking["mask"]}
    refused = console.post("/console/numbers/remove", data=held)
    assert refused.status_code == 400 and "live masking" in refused.text
    assert console.post("/console/numbers/remove", data={**held, "force": "on"}).status_code == 303
    ended = live.post("/api/v2/Masking/get", json=live.auth(maskingId=masking["maskingId"]))
    assert ended.json()["maskings"][0]["endReason"] == "number removed"
    # Another account's number cannot be removed from here.
    other = console.post("/console/numbers/remove", data={"csrf": csrf, "numbers": "+918050000000"})
    assert other.status_code == 400


def test_pages_follow_the_users_permissions(live: Live) -> None:
    token = add_user(live, "acme-viewer", "acme", Permission.LIST_MASKING)
    live.set(m1="+919876543210", m2="+919812345678")
    with sign_in(live, userId="acme-viewer", token=token) as browser:
        assert browser.get("/console/calls").status_code == 403
        assert browser.get("/console/calls.csv").status_code == 403
        assert browser.get("/console/webhooks").status_code == 403
        listing = browser.get("/console/maskings")
        assert 'id="nav-calls"' not in listing.text and 'id="nav-webhooks"' not in listing.text
        masking_id = re.search(r'data-masking-id="([^"]+)"', listing.text)
        assert masking_id
        detail = browser.get(f"/console/maskings/{masking_id.group(1)}")
        assert 'id="unset-form"' not in detail.text and "<h2>Calls</h2>" not in detail.text
        numbers = browser.get("/console/numbers")
        assert 'id="add-form"' not in numbers.text and "MANAGE_POOL" in numbers.text
        forbidden = browser.post(
            "/console/numbers/add", data={"csrf": _csrf(listing), "numbers": "+918040000009"}
        )
        assert forbidden.status_code == 403


def _unechoed(html: str) -> str:
    """The page without the form fields that give back what the visitor typed (a search
    for another account's number shows that number in its own search box)."""
    html = re.sub(r"<textarea[^>]*>.*?</textarea>", "", html, flags=re.S)
    return re.sub(r'(<input[^>]*?) value="[^"]*"', r"\1", html)


def test_another_accounts_data_never_appears(live: Live, admin: str) -> None:
    acme = live.set(m1="+919876543210", m2="+919812345678", eventId="acme-evt")
    secrets = ["+919876543210", "+919812345678", acme["maskingId"], "acme-evt", *live.pool]
    token = add_user(live, "other-admin", "other", *ALL)
    with sign_in(live, userId="other-admin", token=token) as browser:
        pages = [
            browser.get(path)
            for path in (
                "/console",
                "/console/maskings",
                "/console/maskings?by=number&q=%2B919876543210",
                "/console/maskings?by=eventId&q=acme-evt",
                f"/console/maskings?by=maskingId&q={acme['maskingId']}",
                f"/console/maskings/{acme['maskingId']}",
                "/console/calls",
                "/console/calls.csv",
                "/console/numbers",
                "/console/webhooks",
                "/console/recordings/rec_anything",
            )
        ]
        # Ending acme's masking from here finds nothing to end.
        csrf = _csrf(browser.get("/console/numbers"))
        pages.append(
            browser.post(f"/console/maskings/{acme['maskingId']}/unset", data={"csrf": csrf})
        )
        pages.append(
            browser.post("/console/numbers/remove", data={"csrf": csrf, "numbers": live.pool[0]})
        )
    for page in pages:
        assert page.status_code in (200, 400), (page.url, page.status_code)
        for secret in secrets:
            assert secret not in _unechoed(page.text), (page.url, secret)
    still = live.post("/api/v2/Masking/get", json=live.auth(maskingId=acme["maskingId"]))
    assert still.json()["maskings"][0]["status"] == "active"
    numbers = live.post(
        "/api/v2/Masking/set", json=live.auth(m1="+919800000001", m2="+919800000002")
    )
    assert numbers.json()["code"] == 200  # acme's pool is whole


def test_the_console_can_be_turned_off(live: Live) -> None:
    # The live app has it on; an app built with console=off answers the API's 404 envelope.
    settings = dataclasses.replace(live.settings, console="off")
    with serving(create_app(settings, clock=live.clock)) as url:
        answer = httpx.get(url + "/console/signin")
    assert answer.status_code == 404
    assert answer.json()["code"] == 1000
