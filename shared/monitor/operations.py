"""What each users-API operation writes, decided from what it read: pure functions run inside one
Firestore transaction by ``store.UserStore.transact`` (and run again when it retries).

The identify rules of the spec, for the tracked user T (its trackId given) and friendlyId F:
1. T already has F: nothing changes, T's trackId.                                   (UNCHANGED)
2. T has neither a friendlyId nor a login, no user has F: T gets F.                 (ASSIGN)
3. T has neither a friendlyId nor a login, user U has F: T is merged into U, T's
   trackId becomes an alias of U's, U's trackId.                                    (MERGE)
4. T has another friendlyId or a login (but no friendlyId): no user has F: a new
   user with F (NEW); user U has F: U's trackId (EXISTING). T is left as it is.
Before any of them, the spec's 409: with an authenticated user (X-Authenticated-User), F must be
that user's, and so must T unless T is anonymous (``require_authenticated_user``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from shared.monitor.config import Privacy
from shared.monitor.errors import MonitorError, user_not_found
from shared.monitor.users import apply_changes, merge_users, new_user, require_consent


@dataclass(frozen=True)
class Reads:
    """What a transaction read: the tracked user (alias followed) and the owner of a friendlyId."""

    tracked: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None


@dataclass
class Writes:
    set_users: list[dict[str, Any]] = field(default_factory=list)
    create_users: list[dict[str, Any]] = field(default_factory=list)
    # (friendlyId, trackId): the friendlyId's index document, created only if absent.
    claim: tuple[str, str] | None = None
    # old trackId -> the trackId it now resolves to (its record is replaced by an alias).
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What every operation needs besides its reads: the privacy setting, the app calling, the
    login of the request's authenticated user (X-Authenticated-User) and the time."""

    privacy: Privacy
    app: str
    login: str | None
    now: datetime


class IdentifyRule(Enum):
    UNCHANGED = "unchanged"
    ASSIGN = "assign"
    MERGE = "merge"
    NEW = "new"
    EXISTING = "existing"


def decide_identify(tracked: dict[str, Any], owner: dict[str, Any] | None, friendly_id: str) -> IdentifyRule:
    if tracked.get("friendlyId") == friendly_id:
        return IdentifyRule.UNCHANGED
    if tracked.get("friendlyId") or tracked.get("login"):
        return IdentifyRule.EXISTING if owner else IdentifyRule.NEW
    return IdentifyRule.MERGE if owner else IdentifyRule.ASSIGN


def require_authenticated_user(login: str | None, friendly_id: str, tracked: dict[str, Any] | None = None) -> None:
    """The spec's 409: the session's authenticated user (``login``) must be the user of
    ``friendly_id`` and, for identify, the tracked user, unless that one is anonymous (no
    friendlyId, no login: the visitor who just logged in)."""
    if login is None:
        return
    identities = {friendly_id}
    if tracked is not None:
        identities |= {tracked.get(name) for name in ("friendlyId", "login")} - {None}
    if identities != {login}:
        raise MonitorError(409, "AUTHENTICATED_USER_MISMATCH",
                           "the authenticated user (X-Authenticated-User) is not the user with this trackId or "
                           "friendlyId")


def _with_login(user: dict[str, Any], login: str | None) -> dict[str, Any]:
    if login and not user.get("login"):
        user = {**user, "login": login}
    return user


def plan_create(reads: Reads, changes: dict[str, Any], personal: list[str], ctx: Context,
                new_track_id: str) -> tuple[Writes, tuple[bool, str]]:
    """POST /v1/users: update the owner of changes["friendlyId"] if there is one, else create.
    Returns (created, trackId)."""
    friendly_id = changes.get("friendlyId")
    if reads.owner is not None:
        user = _with_login(apply_changes(reads.owner, {k: v for k, v in changes.items() if k != "friendlyId"},
                                         ctx.now), ctx.login)
        require_consent(ctx.privacy, user, [f for f in personal if f != "friendlyId"])
        return Writes(set_users=[user]), (False, user["trackId"])
    user = _with_login(apply_changes(new_user(new_track_id, ctx.now, ctx.app), changes, ctx.now), ctx.login)
    require_consent(ctx.privacy, user, personal)
    claim = (friendly_id, new_track_id) if friendly_id else None
    return Writes(create_users=[user], claim=claim), (True, new_track_id)


def plan_update(track_id: str, reads: Reads, changes: dict[str, Any], personal: list[str],
                ctx: Context) -> tuple[Writes, str]:
    """PATCH /v1/users/{trackId}."""
    if reads.tracked is None:
        raise user_not_found(track_id)
    user = apply_changes(reads.tracked, changes, ctx.now)
    require_consent(ctx.privacy, user, personal)
    return Writes(set_users=[user]), user["trackId"]


def plan_identify(track_id: str, reads: Reads, friendly_id: str, ctx: Context,
                  new_track_id: str) -> tuple[Writes, tuple[IdentifyRule, str]]:
    """POST /v1/users/{trackId}/identify. Returns the rule applied and the resulting trackId."""
    tracked = reads.tracked
    if tracked is None:
        raise user_not_found(track_id)
    require_authenticated_user(ctx.login, friendly_id, tracked)
    rule = decide_identify(tracked, reads.owner, friendly_id)
    writes = Writes()
    if rule is IdentifyRule.UNCHANGED:
        user = tracked
    elif rule is IdentifyRule.ASSIGN:
        user = {**tracked, "friendlyId": friendly_id, "updatedAt": ctx.now}
        writes.claim = (friendly_id, user["trackId"])
    elif rule is IdentifyRule.MERGE:
        assert reads.owner is not None
        user = merge_users(reads.owner, tracked, ctx.now)
        writes.aliases[tracked["trackId"]] = user["trackId"]
    elif rule is IdentifyRule.NEW:
        user = {**new_user(new_track_id, ctx.now, ctx.app), "friendlyId": friendly_id}
        writes.claim = (friendly_id, new_track_id)
    else:
        assert reads.owner is not None
        user = reads.owner
    stored = _with_login(user, ctx.login)
    if rule in (IdentifyRule.ASSIGN, IdentifyRule.MERGE, IdentifyRule.NEW):
        require_consent(ctx.privacy, stored, ["friendlyId"])
    if rule is IdentifyRule.NEW:
        writes.create_users.append(stored)
    elif stored is not user or rule in (IdentifyRule.ASSIGN, IdentifyRule.MERGE):
        writes.set_users.append(stored)
    return writes, (rule, stored["trackId"])


def plan_consent(track_id: str, reads: Reads, term_id: str, ctx: Context) -> tuple[Writes, tuple[bool, dict, str]]:
    """POST /v1/users/{trackId}/consents. Returns (newly recorded, the consent record, the user's
    trackId)."""
    if reads.tracked is None:
        raise user_not_found(track_id)
    consents = reads.tracked.get("consents") or {}
    if term_id in consents:
        return Writes(), (False, consents[term_id], reads.tracked["trackId"])
    record = {"acceptedAt": ctx.now, "recordedBy": ctx.app}
    user = copy.deepcopy(reads.tracked)
    user["consents"] = {**consents, term_id: record}
    user["updatedAt"] = ctx.now
    return Writes(set_users=[user]), (True, record, user["trackId"])
