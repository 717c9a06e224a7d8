"""Settings from CALLMASK_* variables."""

from __future__ import annotations

import pytest

from callmask.config import ConfigError, Settings


def test_the_global_call_time_limit_is_seconds_and_none_by_default() -> None:
    assert Settings().call_time_limit == 0
    assert Settings.from_env({"CALLMASK_CALL_TIME_LIMIT": "3600"}).call_time_limit == 3600


@pytest.mark.parametrize("bad", ["-1", "86401", "1.5", "an hour"])
def test_a_global_call_time_limit_outside_0_to_86400_seconds_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="CALLMASK_CALL_TIME_LIMIT"):
        Settings.from_env({"CALLMASK_CALL_TIME_LIMIT": bad})


def test_ssids_per_user_are_capped_at_100_unless_set_to_at_least_one() -> None:
    assert Settings().ssid_max_per_user == 100
    assert Settings.from_env({"CALLMASK_SSID_MAX_PER_USER": "5"}).ssid_max_per_user == 5
    with pytest.raises(ConfigError, match="CALLMASK_SSID_MAX_PER_USER"):
        Settings.from_env({"CALLMASK_SSID_MAX_PER_USER": "0"})


def test_anchoring_is_required_unless_said_otherwise() -> None:
    assert Settings().sip_rtpengine_required == "yes"
    assert (
        Settings.from_env({"CALLMASK_SIP_RTPENGINE_REQUIRED": "no"}).sip_rtpengine_required == "no"
    )
    with pytest.raises(ConfigError, match="CALLMASK_SIP_RTPENGINE_REQUIRED"):
        Settings.from_env({"CALLMASK_SIP_RTPENGINE_REQUIRED": "false"})


def test_the_sip_lists_reach_the_proxy_configuration() -> None:
    from callmask.bootstrap import kamailio_options

    settings = Settings.from_env(
        {
            "CALLMASK_SIP_TRUSTED": "192.0.2.10, 198.51.100.0/24",
            "CALLMASK_SIP_GATEWAY": "gw1.example.net:5060,gw2.example.net:5060",
            "CALLMASK_SIP_RTPENGINE": "udp:127.0.0.1:2223",
            "CALLMASK_SIP_RTPENGINE_REQUIRED": "no",
            "CALLMASK_HOST": "0.0.0.0",
            "CALLMASK_PORT": "9000",
        }
    )
    options = kamailio_options(settings, "sip", "token")
    assert options.trusted_sources == ("192.0.2.10", "198.51.100.0/24")
    assert options.gateways == ("gw1.example.net:5060", "gw2.example.net:5060")
    assert options.api_urls == ("http://127.0.0.1:9000",)
    assert options.rtpengine == ("udp:127.0.0.1:2223",) and not options.rtpengine_required


def test_no_proxy_is_trusted_unless_listed_and_a_bad_entry_is_refused() -> None:
    assert Settings.from_env({}).trusted_proxies == ""
    listed = Settings.from_env({"CALLMASK_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
    assert listed.trusted_proxies == "10.0.0.0/8, ::1"
    with pytest.raises(ConfigError, match="CALLMASK_TRUSTED_PROXIES"):
        Settings.from_env({"CALLMASK_TRUSTED_PROXIES": "10.0.0.1, nginx"})
