"""The shipped Kamailio configuration: rendering, refusal of unsafe values, Kamailio's own check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callmask.sip.kamailio import KamailioError, KamailioOptions, check, render, write

OPTIONS = KamailioOptions(
    router_user="sip",
    router_token="tok_EN-123",
    listen="udp:10.1.2.3:5080",
    gateways=("carrier.example.net:5060",),
    trusted_pai_sources=("192.0.2.10", "192.0.2.11"),
    mask_key="0123456789abcdef",
    events_queue="callmask:call-events",
)


def test_every_placeholder_is_filled() -> None:
    text = render(OPTIONS)
    assert re.search(r"@@[A-Z_]+@@", text) is None
    assert "listen=udp:10.1.2.3:5080" in text
    assert "userId=sip&token=tok_EN-123" in text
    assert '@carrier.example.net:5060"' in text
    assert 'modparam("topoh", "mask_key", "0123456789abcdef")' in text
    assert (
        '(is_in_subnet("$si", "192.0.2.10/32") || is_in_subnet("$si", "192.0.2.11/32"))' in text
    )
    # The DID is shown on the proxy's own address when no domain is given.
    assert '"sip:$var(shown)@10.1.2.3"' in text


def test_without_trusted_sources_the_asserted_identity_of_a_caller_is_never_believed() -> None:
    text = render(KamailioOptions(router_user="sip", router_token="t"))
    assert 'if (0 && is_present_hf("P-Asserted-Identity"))' in text


@pytest.mark.parametrize(
    "unsafe",
    [
        {"router_token": 'x"; exit; "'},
        {"router_user": "a b"},
        {"gateways": ("$ru",)},
        {"api_urls": ('http://x"; exit; "',)},
        {"trusted_sources": ("10.0.0.0/8 || 1",)},
        {"gateway_user": "u", "gateway_password": 'pa"ss'},
        {"events_queue": "q\nloadmodule"},
    ],
)
def test_values_that_could_break_out_of_the_script_are_refused(unsafe: dict[str, str]) -> None:
    fields = {"router_user": "sip", "router_token": "t", **unsafe}
    with pytest.raises(KamailioError):
        render(KamailioOptions(**fields))  # type: ignore[arg-type]


def test_kamailio_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    config = write(OPTIONS, tmp_path / "kamailio.cfg")
    assert config.stat().st_mode & 0o777 == 0o600
    check(config)


def test_kamailio_check_reports_a_broken_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cfg"
    broken.write_text(render(OPTIONS).replace("request_route {", "request_route {\n  nope();"))
    with pytest.raises(KamailioError, match="nope"):
        check(broken)
