"""`callmask user ...` and `callmask ssid ...`: API users, their tokens, permissions and ssids."""

from __future__ import annotations

import argparse
import json

from callmask.cli.errors import BadValue, CliError
from callmask.domain.errors import InvalidParameters
from callmask.domain.permissions import Permission, parse_permissions, stored
from callmask.domain.reports import iso
from callmask.domain.rules import DEFAULT_REJECT_CODE, REJECT_CODES, AccountRules
from callmask.service import Services
from callmask.service.accounts import Principal, fingerprint


async def _user_add(services: Services, args: argparse.Namespace) -> str:
    if await services.accounts.user(args.user_id) is not None:
        raise CliError(f"user {args.user_id!r} exists")
    chosen = parse_permissions([args.permissions]) if args.permissions is not None else None
    token = await services.accounts.add_user(args.user_id, args.role, args.account, chosen)
    user = await services.accounts.user(args.user_id)
    permissions = sorted(p.value for p in user.permissions) if user else []
    if args.json:
        return json.dumps(
            {"userId": args.user_id, "role": args.role, "token": token, "permissions": permissions}
        )
    return (
        f"user {args.user_id} ({args.role}) created, permissions: {_listed(permissions)}\n"
        f"token: {token}\n(shown once; only its hash is stored)"
    )


def _listed(permissions: list[str]) -> str:
    return ", ".join(permissions) if permissions else "none"


async def _user_permissions(services: Services, args: argparse.Namespace) -> str:
    chosen = parse_permissions(args.permissions)
    if args.action == "grant":
        after = await services.accounts.change_permissions(args.user_id, grant=chosen)
    else:
        after = await services.accounts.change_permissions(args.user_id, revoke=chosen)
    if after is None:
        raise CliError(f"no user {args.user_id!r}")
    permissions = stored(after).split(",") if after else []
    if args.json:
        return json.dumps({"userId": args.user_id, "permissions": permissions})
    return f"{args.user_id}: {_listed(permissions)} (other processes see it within 5 s)"


async def _user_rotate(services: Services, args: argparse.Namespace) -> str:
    if args.grace_minutes < 0:
        raise CliError("--grace-minutes must be 0 or more")
    token = await services.accounts.rotate_token(args.user_id, args.grace_minutes)
    if token is None:
        raise CliError(f"no user {args.user_id!r}")
    until_ms = services.now_ms() + args.grace_minutes * 60_000 if args.grace_minutes else None
    if args.json:
        grace = until_ms // 1000 if until_ms is not None else None
        return json.dumps({"userId": args.user_id, "token": token, "oldTokenUntil": grace})
    if until_ms is None:
        old = (
            "the old one and the ssids made from it no longer work"
            " (other API processes: the old token within 5 s)"
        )
    else:
        old = (
            f"the old one and the ssids made from it work until {iso(until_ms)};"
            " --grace-minutes 0 ends them at once"
        )
    return f"new token for {args.user_id}: {token}\n({old})"


async def _ssid_create(services: Services, args: argparse.Namespace) -> str:
    user = await services.accounts.user(args.user_id)
    if user is None:
        raise CliError(f"no user {args.user_id!r}")
    ssid, expires_ms = await services.accounts.create_ssid(
        Principal(user.user_id, user.account_id, user.role, user.permissions)
    )
    if args.json:
        return json.dumps({"userId": user.user_id, "ssid": ssid, "expiry_time": expires_ms // 1000})
    return f"ssid: {ssid}\nexpires: {expires_ms // 1000} (unix seconds)"


async def _ssid_list(services: Services, args: argparse.Namespace) -> str:
    if await services.accounts.user(args.user) is None:
        raise CliError(f"no user {args.user!r}")
    sessions = await services.accounts.ssids(args.user)
    now_ms = services.now_ms()
    if args.json:
        return json.dumps(
            [
                {
                    "fingerprint": fingerprint(s),
                    "userId": s.user_id,
                    "expiry_time": s.expires_ms // 1000,
                    "expired": s.expires_ms <= now_ms,
                }
                for s in sessions
            ]
        )
    lines = [
        f"{fingerprint(s)}\t{s.user_id}\t{'expired' if s.expires_ms <= now_ms else 'expires'}"
        f" {iso(s.expires_ms)}"
        for s in sessions
    ]
    return "\n".join(lines) if lines else f"{args.user} has no ssid"


async def _ssid_revoke(services: Services, args: argparse.Namespace) -> str:
    if (args.ssid is None) == (args.user is None):
        raise CliError("give an SSID or --user USERID (all of that user's)")
    if args.ssid is not None:
        if not await services.accounts.revoke_ssid(args.ssid):
            raise CliError("no such ssid (unknown, or already expired and swept)")
        return "ssid revoked"
    if await services.accounts.user(args.user) is None:
        raise CliError(f"no user {args.user!r}")
    return f"revoked {await services.accounts.revoke_ssids(args.user)} ssids of {args.user}"


def _rules_shown(rules: AccountRules, default_limit: int, as_json: bool) -> str:
    limit = rules.call_time_limit
    if as_json:
        return json.dumps(
            {
                "account": rules.account_id,
                "outOfSession": rules.out_of_session,
                "forwardTo": rules.forward_to,
                "rejectCode": rules.reject_code,
                "callTimeLimit": limit,
                "defaultCallTimeLimit": default_limit,
                "record": bool(rules.record),
            }
        )

    def seconds(value: int) -> str:
        return "no limit" if value == 0 else f"{value} s"

    if limit is None:
        calls = f"{seconds(default_limit)} (CALLMASK_CALL_TIME_LIMIT)"
    else:
        calls = seconds(limit)
    if rules.out_of_session == "forward":
        others = f"forwarded to {rules.forward_to}"
    else:
        others = f"rejected with {rules.reject_code}"
    return (
        f"{rules.account_id}: call time limit {calls}, unless the masking sets its own;"
        f" callers without a live masking on the number called are {others};"
        f" calls are {'' if rules.record else 'not '}recorded unless the masking says"
    )


async def _account_set(services: Services, args: argparse.Namespace) -> str:
    asked = (args.call_time_limit, args.out_of_session, args.reject_code, args.record)
    if all(value is None for value in asked):
        raise BadValue("give --out-of-session, --reject-code, --call-time-limit or --record")
    try:
        changed = await services.rules.change_rules(
            args.account,
            call_time_limit=args.call_time_limit,
            out_of_session=args.out_of_session,
            reject_code=args.reject_code,
            record=args.record,
        )
    except InvalidParameters as error:
        raise BadValue(error.detail) from None
    if changed is None:
        raise CliError(f"no account {args.account!r} (no user acts for it, no pool number)")
    return _rules_shown(changed, services.rules.default_call_time_limit, args.json)


async def _account_show(services: Services, args: argparse.Namespace) -> str:
    found = await services.rules.rules(args.account)
    if found is None:
        raise CliError(f"no account {args.account!r} (no user acts for it, no pool number)")
    return _rules_shown(found, services.rules.default_call_time_limit, args.json)


def add_account_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser("account", help="an account's rules for its calls")
    actions = account.add_subparsers(dest="action", required=True)
    change = actions.add_parser(
        "set",
        help="change the account's rules; what is not given stays as it is (a bad value:"
        " exit status 2, nothing changed)",
    )
    change.add_argument(
        "account", metavar="ACCOUNT", help="the account, as `user add` names it (--account)"
    )
    change.add_argument(
        "--out-of-session",
        metavar="reject|forward:+E164",
        help="what a call from someone without a live masking on the number called gets:"
        " rejected (with --reject-code), or forwarded to this number, outside every pool",
    )
    change.add_argument(
        "--reject-code",
        metavar="|".join(map(str, REJECT_CODES)),
        help=f"the SIP code of a rejected out-of-session call (default {DEFAULT_REJECT_CODE});"
        " with --out-of-session reject",
    )
    change.add_argument(
        "--record",
        metavar="yes|no",
        help="whether calls are recorded on maskings whose set does not say (record);"
        " recording needs rtpengine (CALLMASK_SIP_RTPENGINE)",
    )
    change.add_argument(
        "--call-time-limit",
        metavar="N",
        help="seconds a call may last unless its masking says (0: no limit);"
        " default: CALLMASK_CALL_TIME_LIMIT again",
    )
    change.add_argument("--json", action="store_true")
    change.set_defaults(work=_account_set)
    show = actions.add_parser("show", help="the account's rules")
    show.add_argument("account", metavar="ACCOUNT")
    show.add_argument("--json", action="store_true")
    show.set_defaults(work=_account_show)


def add_user_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="API users").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="create a user and print its token once")
    add.add_argument("user_id", metavar="USERID")
    add.add_argument("--role", choices=["client", "router"], default="client")
    add.add_argument("--account", help="account the user acts for (default: USERID)")
    add.add_argument(
        "--permissions",
        metavar="P,Q",
        help="instead of the default (clients: LIST_MASKING,LIST_WEBHOOK_LOG,SET_MASKING);"
        f" known: {','.join(p.value for p in Permission)}",
    )
    add.add_argument("--json", action="store_true")
    add.set_defaults(work=_user_add)

    for action, text in (
        ("grant", "give a client user permissions"),
        ("revoke", "take permissions from a user"),
    ):
        change = user.add_parser(action, help=text)
        change.add_argument("user_id", metavar="USERID")
        change.add_argument("permissions", nargs="+", metavar="PERMISSION")
        change.add_argument("--json", action="store_true")
        change.set_defaults(work=_user_permissions)

    rotate = user.add_parser(
        "rotate",
        help="give a user a new token; the old one, and the ssids made from it, work for"
        " --grace-minutes more",
    )
    rotate.add_argument("user_id", metavar="USERID")
    rotate.add_argument(
        "--grace-minutes",
        type=int,
        default=60,
        metavar="N",
        help="how long the old token keeps working (default 60; 0: stops now, e.g. if leaked)",
    )
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(work=_user_rotate)


def add_ssid_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ssid = commands.add_parser("ssid", help="sessions").add_subparsers(dest="action", required=True)
    create = ssid.add_parser("create", help="create an ssid for a user")
    create.add_argument("user_id", metavar="USERID")
    create.add_argument("--json", action="store_true")
    create.set_defaults(work=_ssid_create)
    ssid_list = ssid.add_parser(
        "list", help="a user's ssids: a fingerprint of each (never the ssid) and its expiry"
    )
    ssid_list.add_argument("--user", required=True, metavar="USERID")
    ssid_list.add_argument("--json", action="store_true")
    ssid_list.set_defaults(work=_ssid_list)
    revoke_ssid = ssid.add_parser(
        "revoke", help="end an ssid, or all of a user's, now (every API process at once)"
    )
    revoke_ssid.add_argument("ssid", nargs="?", metavar="SSID")
    revoke_ssid.add_argument("--user", metavar="USERID", help="revoke all of this user's ssids")
    revoke_ssid.set_defaults(work=_ssid_revoke)
