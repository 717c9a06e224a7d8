"""The composition root: the one place that knows every part.

It opens the store, builds the use cases and the background workers, and hands them to the
entry points: the HTTP app (`serve`), the CLI and the tests. Adapters never build these
themselves, and never import one another; tests/test_layers.py checks the import graph.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import shlex
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from callmask import logs
from callmask.config import Settings
from callmask.runtime.delivery import Deliverer
from callmask.runtime.recordings import RecordingCollector
from callmask.runtime.sweeper import Sweeper
from callmask.service import Services
from callmask.service.context import Context
from callmask.sip import kamailio
from callmask.sip.events import CallEventConsumer
from callmask.storage import open_store
from callmask.storage.base import StorageError, Store

log = logging.getLogger("callmask.http")

StoreFactory = Callable[[Settings], Store]


class StoreFailed(Exception):
    """The database failed under a command (the CLI says so in one line)."""


def build_services(
    store: Store, settings: Settings, clock: Callable[[], float] = time.time
) -> Services:
    """The use cases over an open store (the tests build them so, on a store of their own)."""
    return Services.of(Context(store, settings, clock))


@asynccontextmanager
async def session(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    store_factory: StoreFactory = open_store,
) -> AsyncIterator[Services]:
    """The use cases over a freshly opened and migrated store, closed at the end (the CLI)."""
    try:
        store = store_factory(settings)
    except StorageError as error:
        raise StoreFailed(str(error)) from error
    try:
        await store.migrate()
        yield build_services(store, settings, clock)
    except StorageError as error:
        raise StoreFailed(str(error)) from error
    finally:
        await store.close()


@asynccontextmanager
async def running(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    store_factory: StoreFactory = open_store,
) -> AsyncIterator[Services]:
    """A serving process: the store, the use cases, and the workers that run beside the API
    (the call-event consumer, the webhook deliverer, the sweeper) until the end."""
    store = store_factory(settings)
    applied = await store.migrate()
    if applied:
        log.info("applied migrations %s", applied)
    services = build_services(store, settings, clock)
    consumer = None
    if settings.events_redis_url:
        consumer = CallEventConsumer(
            services.routing, settings.events_redis_url, settings.events_queue
        )
        consumer.start()
    deliverer = Deliverer(services.webhooks, settings.webhook_poll_seconds)
    services.context.outbox.on_notice = deliverer.wake
    deliverer.start()
    sweeper = Sweeper(services.maskings, services.retention, settings)
    sweeper.start()
    collector = recording_collector(services, settings)
    if collector is not None:
        collector.start()
    try:
        yield services
    finally:
        # Together, not in turn: each bounds its own stop (1.5 s at most), so the slowest
        # decides (docs/decisions.md, "Stopping within 5 seconds").
        stops = [sweeper.stop(), deliverer.stop()]
        stops += [] if consumer is None else [consumer.stop()]
        stops += [] if collector is None else [collector.stop()]
        await asyncio.gather(*stops)
        await store.close()


def recording_collector(services: Services, settings: Settings) -> RecordingCollector | None:
    """The collector of recorded calls, when CALLMASK_RECORDINGS_DIR is set."""
    if not settings.recordings_dir:
        return None
    folder = Path(settings.recordings_dir)
    spool = Path(settings.recordings_spool) if settings.recordings_spool else folder / "spool"
    prompt = Path(settings.recording_prompt or kamailio.default_prompt())
    return RecordingCollector(services.recordings, spool, folder, prompt)


def create_app(
    settings: Settings,
    clock: Callable[[], float] = time.time,
    store_factory: StoreFactory = open_store,
) -> Starlette:
    """The ASGI app over a serving process; the store is opened at start-up, closed at
    shutdown."""
    # Imported here, not at the top: `serve --workers N` must set PROMETHEUS_MULTIPROC_DIR
    # before prometheus_client is first imported, and the CLI imports this module.
    from callmask.http import app as http_app

    # Limits run on a monotonic clock, unless a test drives the clock.
    limits_clock = time.monotonic if clock is time.time else clock
    return http_app.create_app(
        settings, lambda: running(settings, clock, store_factory), limits_clock
    )


def app_from_env() -> Starlette:
    """The app configured from CALLMASK_* variables: what each `serve --workers N` process runs."""
    settings = Settings.from_env()
    logs.configure(
        settings.log_level,
        settings.log_format or "json",
        access_log=settings.access_log == "on",
    )
    return create_app(settings)


# -- the SIP proxy's configuration, for `callmask sip` ---------------------------------------


def _listed(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def local_api_url(settings: Settings) -> str:
    """This install's API as `serve` listens, reached from the same host: a wildcard address
    is not one to connect to."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def kamailio_options(
    settings: Settings, user: str, token: str, dev: bool = False
) -> kamailio.KamailioOptions:
    """KamailioError when the settings cannot make a configuration fit for a real trunk."""
    trusted = _listed(settings.sip_trusted)
    if not trusted:
        if not dev:
            raise kamailio.KamailioError(
                "set CALLMASK_SIP_TRUSTED to the addresses of your carrier trunks (IPs or"
                " networks, comma-separated): requests from anywhere else get 403. --dev"
                " trusts loopback only"
            )
        trusted = kamailio.LOOPBACK
    mask_key = settings.sip_mask_key
    if not mask_key:
        mask_key = secrets.token_hex(16)
        print(
            "callmask: CALLMASK_SIP_MASK_KEY is not set; using a random one, so calls in"
            " progress will not survive a restart of Kamailio with a new configuration",
            file=sys.stderr,
        )
    return kamailio.KamailioOptions(
        router_user=user,
        router_token=token,
        listen=settings.sip_listen,
        api_urls=_listed(settings.sip_api_url) or (local_api_url(settings),),
        gateways=_listed(settings.sip_gateway),
        gateway_user=settings.sip_gateway_user,
        gateway_password=settings.sip_gateway_password,
        trusted_sources=trusted,
        sip_domain=settings.sip_domain,
        trusted_pai_sources=_listed(settings.sip_trusted_pai),
        mask_key=mask_key,
        redis_url=settings.events_redis_url or "redis://127.0.0.1:6379",
        events_queue=settings.events_queue,
        children=settings.sip_children,
        control_socket=settings.sip_control_socket,
        tls_listen=settings.sip_tls_listen,
        tls_cert=settings.sip_tls_cert,
        tls_key=settings.sip_tls_key,
        rtpengine=_listed(settings.sip_rtpengine),
        rtpengine_required=settings.sip_rtpengine_required == "yes",
        recording_prompt=settings.recording_prompt,
    )


def kamailio_config(
    settings: Settings, user: str, token: str, out: Path | None, dev: bool = False
) -> str | None:
    """The rendered configuration; written to out instead when out is given, for Debian's
    kamailio user to read (mode 0640, group kamailio) where this user may arrange it.

    KamailioError (a ValueError) when a value cannot go into a Kamailio script.
    """
    options = kamailio_options(settings, user, token, dev)
    text = kamailio.render(options)
    if out is None:
        return text
    kamailio.write(options, out, group=kamailio.GROUP)
    _say_who_reads(out)
    return None


def _say_who_reads(config: Path) -> None:
    if kamailio.group_readable(config, kamailio.GROUP):
        return
    group, path = kamailio.GROUP, shlex.quote(str(config))
    print(
        f"callmask: {config} is readable by you only (mode 0600): group {group} could not be"
        f" given it here. If Kamailio runs as user {group} (Debian's package), as root:"
        f" chgrp {group} {path} && chmod 0640 {path}",
        file=sys.stderr,
    )


def kamailio_run(
    settings: Settings, user: str, token: str, dev: bool = False
) -> tuple[Path, list[str]]:
    """A checked configuration in a new folder, and the command that runs Kamailio on it."""
    folder = Path(tempfile.mkdtemp(prefix="callmask-kamailio-"))
    options = dataclasses.replace(
        kamailio_options(settings, user, token, dev),
        control_socket=str(folder / "kamailio.ctl"),
    )
    config = kamailio.write(options, folder / "kamailio.cfg")
    kamailio.check(config)
    return config, kamailio.command(config)


def kamailio_check(settings: Settings, user: str, token: str, dev: bool = False) -> None:
    """Render the configuration into a temporary folder and have Kamailio check it.

    KamailioError (a ValueError) with Kamailio's complaint when it refuses it.
    """
    options = kamailio_options(settings, user, token, dev)
    with tempfile.TemporaryDirectory(prefix="callmask-kamailio-") as folder:
        kamailio.check(kamailio.write(options, Path(folder) / "kamailio.cfg"))


def kamailio_check_file(config: Path) -> None:
    """Have Kamailio check an already rendered configuration file (KamailioError if not)."""
    kamailio.check(config)
