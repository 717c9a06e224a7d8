"""Call recording over the real socket, on both backends: `record` from Masking/set and the
account's default to the route answer, each call's `recording` in masklist, the download
(callreport/recording) served to the call's account only, and the purge."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from callmask.bootstrap import build_services, create_app
from callmask.cli import main
from callmask.config import Settings
from callmask.domain.calls import CallEvent
from callmask.domain.errors import Code
from callmask.domain.numbers import E164
from callmask.domain.permissions import Permission
from callmask.domain.recordings import Recording, file_name
from callmask.service import Services
from tests.backends import BACKENDS, Database, fresh_store
from tests.support import (
    MASKING_GET,
    MASKLIST,
    NOW,
    OFF,
    ROUTE,
    SET,
    SSID,
    UNSET,
    A,
    B,
    C,
    Clock,
    D,
    E,
    F,
    assert_error,
    is_json_answer,
    seed_store,
    serving,
)

pytestmark = pytest.mark.anyio

RECORDING = "/api/v2/callreport/recording"
NOW_MS = NOW * 1000
UNKNOWN = {"status": "error", "message": "no recording with this id", "code": 1000}
MISSING = "the capture is missing: rtpengine could not write it"
SKIPPED = "the consent prompt could not be played"


@dataclass
class Served:
    """The app on a real socket over a fresh database; beside it, the use cases over a store of
    the test's own (the proxy's events, the collector's finish, the purge)."""

    url: str
    settings: Settings
    database: Database
    services: Services
    client: str  # acme's API user: sets maskings; no LIST_CALL_LOG
    router: str
    analyst: str  # acme-ops: LIST_CALL_LOG of acme
    stranger: str  # other-ops: LIST_CALL_LOG of account other
    http: httpx.AsyncClient = field(repr=False)

    @property
    def folder(self) -> Path:
        return Path(self.settings.recordings_dir)

    async def post(self, path: str, **body: object) -> dict[str, Any]:
        response = await self.http.post(self.url + path, json=body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def set(self, **params: object) -> dict[str, Any]:
        return await self.post(SET, userId="acme", token=self.client, **params)

    async def route(self, caller: str, mask: str) -> dict[str, Any]:
        response = await self.http.get(
            self.url + ROUTE,
            params={"caller": caller, "mask": mask},
            headers={"Authorization": f"Bearer {self.router}"},
        )
        answer: dict[str, Any] = response.json()
        return answer

    async def calls(self) -> dict[str, dict[str, Any]]:
        answer = await self.post(MASKLIST, userId="acme-ops", token=self.analyst)
        assert answer["status"] == "success", answer
        return {call["callId"]: call for call in answer["calls"]}

    async def fetch(
        self,
        method: str = "GET",
        bearer: str | None = None,
        body: dict[str, object] | None = None,
        **query: str,
    ) -> httpx.Response:
        """callreport/recording, with these query parameters, body and Bearer token."""
        headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
        response = await self.http.request(
            method, self.url + RECORDING, params=query, json=body, headers=headers
        )
        assert response.status_code == 200, response.text
        return response

    async def download(self, recording_id: str, user: str = "acme-ops") -> dict[str, Any]:
        """The JSON answer of a download that must fail."""
        token = {"acme-ops": self.analyst, "other-ops": self.stranger, "acme": self.client}[user]
        response = await self.fetch(userId=user, token=token, id=recording_id)
        assert is_json_answer(response), response.headers
        answer: dict[str, Any] = response.json()
        return answer

    async def account(self, *argv: str) -> int:
        """`callmask account ...` against the server's database, as an operator runs it."""
        return await asyncio.to_thread(main, ["account", *argv], self.settings)


@pytest.fixture(params=BACKENDS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    clock = Clock()
    async with fresh_store(request.param, tmp_path) as (store, database):
        settings = Settings(
            database_url=database.url,
            sweep_interval_seconds=3600,
            recordings_dir=str(tmp_path / "recordings"),
            **OFF,  # type: ignore[arg-type]
        )
        services = build_services(store, settings, clock)
        client, router = await seed_store(store, services, clock)
        accounts = services.accounts
        log = frozenset({Permission.LIST_CALL_LOG})
        analyst = await accounts.add_user("acme-ops", "client", "acme", log)
        stranger = await accounts.add_user("other-ops", "client", "other", log)
        with serving(create_app(settings, clock=clock)) as url:
            async with httpx.AsyncClient(timeout=15) as http:
                yield Served(
                    url, settings, database, services, client, router, analyst, stranger, http
                )


async def recorded_call(
    served: Served,
    call_id: str,
    masking: dict[str, Any],
    recording: str | None = "started",
) -> Recording | None:
    """A call through the masking, answered and ended; the proxy's recording event at answer
    (started, skipped, or none: None)."""
    mask, caller, callee = E164(masking["mask"]), E164(masking["m1"]), E164(masking["m2"])
    events = [
        CallEvent("start", call_id, NOW_MS - 60_000, masking["maskingId"], mask, caller, callee),
        CallEvent("answer", call_id, NOW_MS - 58_000, sip_status=200),
    ]
    if recording == "started":
        events.append(CallEvent("recording", call_id, NOW_MS - 58_000, recording="started"))
    elif recording == "skipped":
        events.append(
            CallEvent("recording", call_id, NOW_MS - 58_000, recording="skipped", reason=SKIPPED)
        )
    events.append(CallEvent("end", call_id, NOW_MS - 10_000, duration_s=48, sip_status=200))
    for event in events:
        await served.services.routing.record_call_event(event)
    return await served.services.recordings.of_call(call_id)


async def ready(served: Served, recording: Recording | None) -> tuple[Recording, bytes]:
    """The recording's audio written where the collector writes it, and the row finished."""
    assert recording is not None
    name = file_name("acme", recording.recording_id)
    audio = b"RIFF" + os.urandom(9_000)
    (served.folder / name).parent.mkdir(parents=True, exist_ok=True)
    (served.folder / name).write_bytes(audio)
    done = await served.services.recordings.finish(
        recording, file=name, duration_ms=2_480, size=len(audio)
    )
    assert done is not None
    return done, audio


async def ready_call(served: Served, call_id: str = "call-1") -> tuple[Recording, bytes]:
    masking = await served.set(m1=A, m2=B)
    return await ready(served, await recorded_call(served, call_id, masking))


# -- record on set, the account's default, the route answer -----------------------------------


ABSENT = object()


async def test_set_answers_and_keeps_record_as_given(served: Served) -> None:
    cases: list[tuple[object, bool | None]] = [
        (True, True),
        (False, False),
        ("yes", True),
        ("No", False),
        (1, True),
        (0, False),
        ("true", True),
        (None, None),
        ("", None),
        (ABSENT, None),
    ]
    for sent, kept in cases:
        params = {} if sent is ABSENT else {"record": sent}
        made = await served.set(m1=A, m2=B, **params)
        assert made["status"] == "success" and made["record"] is kept, (sent, made)
        got = await served.post(
            MASKING_GET, userId="acme", token=served.client, maskingId=made["maskingId"]
        )
        assert got["maskings"][0]["record"] is kept, (sent, got)
        assert (await served.post(UNSET, userId="acme", token=served.client, m1=A))["status"] == (
            "success"
        )
    # A form, as curl --data sends it.
    form = {"userId": "acme", "token": served.client, "m1": C, "m2": D, "record": "yes"}
    made = (await served.http.post(served.url + SET, data=form)).json()
    assert made["record"] is True, made


@pytest.mark.parametrize("bad", ["maybe", 2, -1, "y", [True], {"record": True}, 1.5])
async def test_set_with_a_record_that_is_not_yes_or_no_is_1000_and_stores_nothing(
    served: Served, bad: object
) -> None:
    answer = await served.set(m1=A, m2=B, record=bad)
    assert_error(answer, Code.INVALID_PARAMETERS, "record")
    counted = [
        await served.database.rows(f"SELECT count(*) FROM {t}") for t in ("maskings", "claims")
    ]
    assert counted == [[(0,)], [(0,)]]


async def test_the_route_answer_records_as_the_masking_said_else_as_the_account_default(
    served: Served,
) -> None:
    unsaid = await served.set(m1=A, m2=B)
    said_no = await served.set(m1=C, m2=D, record=False)
    said_yes = await served.set(m1=E, m2=F, record="yes")

    async def recorded() -> list[object]:
        answers = [
            await served.route(A, unsaid["mask"]),
            await served.route(D, said_no["mask"]),
            await served.route(F, said_yes["mask"]),
        ]
        assert [answer["action"] for answer in answers] == ["connect"] * 3, answers
        return [answer["record"] for answer in answers]

    assert await recorded() == [False, False, True]
    assert await served.account("set", "acme", "--record", "yes") == 0
    assert await recorded() == [True, False, True]
    assert await served.account("set", "acme", "--record", "no") == 0
    assert await recorded() == [False, False, True]
    # Another account's default reaches none of ours.
    assert await served.account("set", "acme", "--record", "yes") == 0
    assert await served.account("set", "other", "--record", "no") == 0
    assert await recorded() == [True, False, True]


# -- each call's recording in masklist --------------------------------------------------------


async def test_masklist_shows_each_calls_recording_from_the_event_to_ready(
    served: Served,
) -> None:
    masking = await served.set(m1=A, m2=B)
    await recorded_call(served, "plain", masking, recording=None)
    recording = await recorded_call(served, "recorded", masking)
    skipped = await recorded_call(served, "skipped", masking, recording="skipped")
    assert recording is not None and skipped is not None
    calls = await served.calls()
    assert calls["plain"]["recording"] is None
    assert calls["recorded"]["recording"] == {
        "id": recording.recording_id,
        "status": "recording",
        "duration": None,
        "size": None,
        "reason": None,
    }
    assert calls["skipped"]["recording"] == {
        "id": skipped.recording_id,
        "status": "skipped",
        "duration": None,
        "size": None,
        "reason": SKIPPED,
    }
    assert skipped.recording_id != recording.recording_id

    _, audio = await ready(served, recording)

    calls = await served.calls()
    assert calls["recorded"]["recording"] == {
        "id": recording.recording_id,
        "status": "ready",
        "duration": 2.48,
        "size": len(audio),
        "reason": None,
    }
    assert calls["plain"]["recording"] is None
    assert set(calls["recorded"]) == set(calls["plain"])


# -- the download ------------------------------------------------------------------------------


def assert_audio(response: httpx.Response, recording: Recording, audio: bytes) -> None:
    assert response.content == audio
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{recording.recording_id}.wav"'
    )
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["access-control-allow-origin"] == "*"


async def test_the_calls_account_downloads_the_audio_by_get_post_bearer_and_ssid(
    served: Served,
) -> None:
    recording, audio = await ready_call(served)
    rid = recording.recording_id
    by_get = await served.fetch(userId="acme-ops", token=served.analyst, id=rid)
    assert_audio(by_get, recording, audio)
    by_post = await served.fetch(
        "POST", body={"userId": "acme-ops", "token": served.analyst, "id": rid}
    )
    assert_audio(by_post, recording, audio)
    assert_audio(await served.fetch(bearer=served.analyst, id=rid), recording, audio)
    assert_audio(
        await served.fetch("POST", bearer=served.analyst, body={"id": rid}), recording, audio
    )
    ssid = await served.post(SSID, userId="acme-ops", token=served.analyst)
    assert_audio(await served.fetch(ssid=ssid["ssid"], id=rid), recording, audio)


async def test_another_account_gets_exactly_the_answer_of_an_unknown_id(
    served: Served,
) -> None:
    recording, _ = await ready_call(served)
    unknown = await served.fetch(userId="acme-ops", token=served.analyst, id="rec_" + "x" * 24)
    theirs = await served.fetch(
        userId="other-ops", token=served.stranger, id=recording.recording_id
    )
    by_bearer = await served.fetch(bearer=served.stranger, id=recording.recording_id)
    assert unknown.json() == UNKNOWN
    for response in (theirs, by_bearer):
        assert response.content == unknown.content
        assert response.headers["content-type"] == unknown.headers["content-type"]


async def test_the_download_needs_list_call_log(served: Served) -> None:
    recording, _ = await ready_call(served)
    for bearer in (served.client, served.router):  # a client without it, and a router
        answer = (await served.fetch(bearer=bearer, id=recording.recording_id)).json()
        assert_error(answer, Code.PERMISSION_DENIED, "LIST_CALL_LOG")
    assert_error(
        await served.download(recording.recording_id, user="acme"),
        Code.PERMISSION_DENIED,
        "LIST_CALL_LOG",
    )
    # Nor for an unknown id: the permission is checked first.
    assert_error(await served.download("rec_nope", user="acme"), Code.PERMISSION_DENIED)


async def test_a_recording_that_is_not_ready_answers_1000_with_its_status(
    served: Served,
) -> None:
    masking = await served.set(m1=A, m2=B)
    under_way = await recorded_call(served, "under-way", masking)
    failed = await recorded_call(served, "failed", masking)
    skipped = await recorded_call(served, "skipped", masking, recording="skipped")
    assert under_way is not None and failed is not None and skipped is not None
    assert await served.services.recordings.finish(failed, reason=MISSING) is not None
    answers = {
        f"recording {under_way.recording_id} is recording": under_way,
        f"recording {failed.recording_id} is failed: {MISSING}": failed,
        f"recording {skipped.recording_id} is skipped: {SKIPPED}": skipped,
    }
    for message, recording in answers.items():
        answer = await served.download(recording.recording_id)
        assert answer == {"status": "error", "message": message, "code": 1000}
    # Ready, but its file was deleted behind the service's back.
    gone, _ = await ready(served, await recorded_call(served, "gone", masking))
    assert gone.file is not None
    (served.folder / gone.file).unlink()
    answer = await served.download(gone.recording_id)
    assert answer == {
        "status": "error",
        "message": f"recording {gone.recording_id}'s file is missing",
        "code": 1000,
    }


async def test_a_download_without_an_id_is_1000(served: Served) -> None:
    await ready_call(served)
    credentials = {"userId": "acme-ops", "token": served.analyst}
    for body in ({}, {"id": ""}, {"id": 12}, {"id": None}):
        response = await served.fetch("POST", body={**credentials, **body})
        assert_error(response.json(), Code.INVALID_PARAMETERS, "id must name a recording")
    response = await served.fetch(userId="acme-ops", token=served.analyst)
    assert_error(response.json(), Code.INVALID_PARAMETERS, "id must name a recording")


async def test_a_bearer_token_with_other_credentials_is_1000(served: Served) -> None:
    recording, _ = await ready_call(served)
    rid = recording.recording_id
    ssid = (await served.post(SSID, userId="acme-ops", token=served.analyst))["ssid"]
    both = [
        {"userId": "acme-ops", "token": served.analyst},
        {"userId": "acme-ops"},
        {"token": served.analyst},
        {"ssid": ssid},
    ]
    for credentials in both:
        for response in (
            await served.fetch(bearer=served.analyst, id=rid, **credentials),
            await served.fetch("POST", bearer=served.analyst, body={"id": rid, **credentials}),
        ):
            assert is_json_answer(response), credentials
            assert_error(response.json(), Code.INVALID_PARAMETERS, "give one kind of credentials")
    wrong = await served.fetch(bearer="not-a-token", id=rid)
    assert_error(wrong.json(), Code.INVALID_TOKEN)


# -- retention ---------------------------------------------------------------------------------


async def test_a_purge_deletes_the_recording_and_its_file(served: Served) -> None:
    recording, _ = await ready_call(served)
    assert recording.file is not None
    path = served.folder / recording.file
    assert path.is_file()

    purged = await served.services.retention.purge(served.services.now_ms() + 1)

    assert purged.recordings == 1 and purged.files == (recording.file,)
    assert not path.exists()
    assert await served.database.rows("SELECT count(*) FROM recordings") == [(0,)]
    assert await served.download(recording.recording_id) == UNKNOWN
