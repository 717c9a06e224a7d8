"""Settings, read from CALLMASK_* environment variables once and passed explicitly."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from callmask.domain.masking import ExpiryRules
from callmask.domain.rules import MAX_CALL_TIME_LIMIT_S


class ConfigError(ValueError):
    """A CALLMASK_* variable holds a value callmask cannot use."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(spec: str) -> tuple[IPNetwork, ...]:
    """CALLMASK_TRUSTED_PROXIES as networks (a bare address is a network of one)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///./callmask.db"
    host: str = "127.0.0.1"
    port: int = 8080
    default_region: str = "IN"
    default_expiry_minutes: int = 1440
    max_expiry_minutes: int = 43200
    ssid_ttl_minutes: int = 1440
    # A user's live ssids at most: a new one revokes the one that expires first beyond this.
    ssid_max_per_user: int = 100
    sweep_interval_seconds: float = 60.0
    # A new masking passes over numbers its parties let go of this recently, while others are
    # free, so a callback on a number just used does not reach someone new (0: plain first fit).
    recent_release_minutes: int = 60
    # Ended maskings, call records and webhook history older than this are deleted (0: never).
    retention_days: int = 90
    # Seconds a call may last when neither its masking nor its account says (0: no limit).
    call_time_limit: int = 0
    purge_interval_seconds: float = 3600.0
    # Webhook delivery: each attempt's time limit, how many attempts, the first retry's delay
    # (doubling after each failure, at most an hour), and how often the outbox is polled.
    webhook_timeout_seconds: float = 5.0
    webhook_max_attempts: int = 12
    webhook_retry_seconds: float = 10.0
    webhook_poll_seconds: float = 1.0
    sqlite_synchronous: str = "NORMAL"
    db_pool_size: int = 10
    db_timeout_seconds: float = 3.0
    max_body_bytes: int = 65536
    log_level: str = "INFO"
    # Where the SIP proxy queues call events; empty means no consumer runs in this process.
    events_redis_url: str = ""
    events_queue: str = "callmask:call-events"
    # The shipped Kamailio configuration (callmask sip config / sip run).
    sip_listen: str = "udp:127.0.0.1:5060"
    # Carrier gateways, comma-separated: the first, then the next on a timeout, 408 or 5xx.
    sip_gateway: str = "127.0.0.1:5070"
    sip_gateway_user: str = ""
    sip_gateway_password: str = ""
    sip_domain: str = ""
    # Addresses or networks (comma-separated) whose requests the proxy serves: the carrier
    # trunks. Required to render a configuration, unless --dev (loopback).
    sip_trusted: str = ""
    sip_trusted_pai: str = ""
    # callmask API hosts or load balancers, comma-separated, tried in order for each lookup
    # (empty: this install's own API, as `serve` listens).
    sip_api_url: str = ""
    sip_tls_cert: str = ""
    sip_tls_key: str = ""
    sip_tls_listen: str = ""
    sip_control_socket: str = "/run/kamailio/kamailio_ctl"
    # rtpengine control addresses (udp:host:port, comma-separated) to anchor media through, so
    # neither party sees the other's IP address (empty: media goes directly between them).
    sip_rtpengine: str = ""
    # "yes": a call rtpengine cannot anchor fails with 503 rather than expose addresses;
    # "no": it connects unanchored (counted as callmask_unanchored).
    sip_rtpengine_required: str = "yes"
    # Call recording (with rtpengine): where each recorded call's WAV is kept; the folder
    # rtpengine writes its captures to (its --recording-dir; empty: <recordings dir>/spool),
    # which `serve` collects from (so it runs where it can read that folder); and the consent
    # prompt both parties hear at answer (empty: the one shipped, "This call is recorded").
    recordings_dir: str = ""
    recordings_spool: str = ""
    recording_prompt: str = ""
    sip_router_user: str = ""
    sip_router_token: str = ""
    sip_mask_key: str = ""
    sip_children: int = 8
    # Rate limits on set, unset, the queries and auth/ssid (never route): a token bucket per
    # client address and per account, in each process (0: off). Above what one busy client
    # sends, so they stop a runaway or abusive one rather than shape normal traffic.
    rate_limit_ip_per_second: float = 4000.0
    rate_limit_ip_burst: int = 8000
    rate_limit_account_per_second: float = 2000.0
    rate_limit_account_burst: int = 4000
    # Failed authentications: this many from one address, or naming one userId, within the
    # window lock it out (every endpoint, correct credentials too) until a window has passed.
    auth_fail_limit_ip: int = 20
    auth_fail_limit_user: int = 20
    auth_fail_window_seconds: float = 300.0
    # Operations: log lines as JSON objects or text ("": json for serve, text for the other
    # commands); how long the database-derived metrics are reused between scrapes; how long
    # /readyz waits for the database.
    log_format: str = ""
    # One INFO line per request (method, route template, status, code, duration); "off" drops
    # them (~10 us of each request's time).
    access_log: str = "on"
    metrics_cache_seconds: float = 10.0
    ready_timeout_seconds: float = 1.0
    # Peers (addresses or networks, comma-separated) whose X-Forwarded-For names the client:
    # your reverse proxies. Empty: none, every client is its socket's peer, since anyone can
    # write the header and the address is what the lockouts and rate limits count by.
    trusted_proxies: str = ""
    # A bearer token /metrics requires (empty: open, as before; set it when anyone but your
    # Prometheus can reach the port: the scrape names every account and its pool's load).
    metrics_token: str = ""
    # The web console under /console ("off": the API alone).
    console: str = "on"

    @property
    def expiry_rules(self) -> ExpiryRules:
        return ExpiryRules(self.default_expiry_minutes, self.max_expiry_minutes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get("CALLMASK_" + field.name.upper())
            if raw is None or raw == "":
                continue
            kind = field.type if isinstance(field.type, str) else field.type.__name__
            try:
                values[field.name] = {"int": int, "float": float}.get(kind, str)(raw)
            except ValueError:
                raise ConfigError(f"CALLMASK_{field.name.upper()} must be {kind}") from None
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.default_expiry_minutes <= 0 or self.max_expiry_minutes <= 0:
            raise ConfigError("expiry minutes must be positive")
        if self.default_expiry_minutes > self.max_expiry_minutes:
            raise ConfigError("CALLMASK_DEFAULT_EXPIRY_MINUTES exceeds CALLMASK_MAX_EXPIRY_MINUTES")
        if self.sqlite_synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError("CALLMASK_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
        if self.ssid_max_per_user < 1:
            raise ConfigError("CALLMASK_SSID_MAX_PER_USER must be 1 or more")
        if self.recent_release_minutes < 0:
            raise ConfigError("CALLMASK_RECENT_RELEASE_MINUTES must be 0 (off) or more")
        if not 0 <= self.call_time_limit <= MAX_CALL_TIME_LIMIT_S:
            raise ConfigError(
                f"CALLMASK_CALL_TIME_LIMIT must be 0 (no limit) to {MAX_CALL_TIME_LIMIT_S} seconds"
            )
        if self.retention_days < 0:
            raise ConfigError("CALLMASK_RETENTION_DAYS must be 0 (keep) or more")
        if self.webhook_timeout_seconds <= 0 or self.webhook_max_attempts < 1:
            raise ConfigError("webhook timeout and attempts must be positive")
        if self.webhook_retry_seconds <= 0 or self.webhook_poll_seconds <= 0:
            raise ConfigError("webhook retry and poll seconds must be positive")
        if (
            min(
                self.rate_limit_ip_per_second,
                self.rate_limit_ip_burst,
                self.rate_limit_account_per_second,
                self.rate_limit_account_burst,
                self.auth_fail_limit_ip,
                self.auth_fail_limit_user,
            )
            < 0
            or self.auth_fail_window_seconds <= 0
        ):
            raise ConfigError("rate limits and failed-auth limits must be 0 (off) or more")
        if self.sip_rtpengine_required not in ("yes", "no"):
            raise ConfigError("CALLMASK_SIP_RTPENGINE_REQUIRED must be yes or no")
        if self.console not in ("on", "off"):
            raise ConfigError("CALLMASK_CONSOLE must be on or off")
        if self.access_log not in ("on", "off"):
            raise ConfigError("CALLMASK_ACCESS_LOG must be on or off")
        if self.log_format not in ("", "json", "text"):
            raise ConfigError("CALLMASK_LOG_FORMAT must be json or text")
        if self.metrics_cache_seconds < 0 or self.ready_timeout_seconds <= 0:
            raise ConfigError("metrics cache seconds must be 0 or more, ready timeout positive")
        try:
            proxy_networks(self.trusted_proxies)
        except ValueError:
            raise ConfigError(
                "CALLMASK_TRUSTED_PROXIES must be IP addresses or networks, comma-separated"
            ) from None
        if not self.database_url.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise ConfigError("CALLMASK_DATABASE_URL must start with sqlite: or postgresql:")
