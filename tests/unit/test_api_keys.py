from __future__ import annotations

from shared.platform.api_keys import (
    ApiKeyVerifier,
    Scope,
    VerifiedKey,
    hash_key,
    split_key,
)

KEY = "fpk_abc123def456_s3cr3t-value"
LEGACY_KEY = "fpk_old000000000_s3cr3t-value"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier_with(records: dict[str, dict], clock: Clock, cache_seconds: float = 30) -> tuple[ApiKeyVerifier, list]:
    lookups: list[str] = []

    def lookup(key_id: str) -> dict | None:
        lookups.append(key_id)
        return records.get(key_id)

    return ApiKeyVerifier(lookup, cache_seconds, clock), lookups


def test_split_key():
    assert split_key(KEY) == ("abc123def456", "s3cr3t-value")
    assert split_key("fpk_id_secret_with_underscores") == ("id", "secret_with_underscores")
    for malformed in ("", "fpk", "fpk__x", "abc_id_secret", "fpk_id_"):
        assert split_key(malformed) is None


def test_a_verified_key_is_cached_until_the_period_ends_then_revocation_applies():
    records = {"abc123def456": {"name": "app", "hash": hash_key(KEY), "revokedAt": None}}
    clock = Clock()
    verifier, lookups = verifier_with(records, clock)
    assert verifier.app_name(KEY) == "app"
    records["abc123def456"]["revokedAt"] = "now"
    clock.now += 29
    assert verifier.app_name(KEY) == "app"
    assert len(lookups) == 1
    clock.now += 2
    assert verifier.app_name(KEY) is None
    assert len(lookups) == 2


def test_wrong_secret_unknown_id_and_malformed_keys_are_refused_and_not_cached():
    records = {"abc123def456": {"name": "app", "hash": hash_key(KEY), "revokedAt": None}}
    verifier, lookups = verifier_with(records, Clock())
    assert verifier.app_name("fpk_abc123def456_other") is None
    assert verifier.app_name("fpk_unknown_s3cr3t-value") is None
    assert verifier.app_name("garbage") is None
    assert lookups == ["abc123def456", "unknown"]
    assert verifier.app_name("fpk_abc123def456_other") is None
    assert len(lookups) == 3


def test_a_keys_scope_is_verified_with_it_and_a_key_without_one_reads_no_reports():
    records = {"abc123def456": {"name": "retailer", "hash": hash_key(KEY), "revokedAt": None,
                                "admin": False, "publishers": ["pub-a"]},
               "old000000000": {"name": "legacy", "hash": hash_key(LEGACY_KEY), "revokedAt": None}}
    verifier, _ = verifier_with(records, Clock())
    retailer = verifier.verify(KEY)
    assert retailer == VerifiedKey("retailer", Scope(publishers=("pub-a",)))
    assert retailer.scope.may_read("pub-a") and not retailer.scope.may_read("pub-b")
    legacy = verifier.verify(LEGACY_KEY)
    assert legacy == VerifiedKey("legacy", Scope()) and not legacy.scope.may_read("pub-a")
    assert verifier.app_name(LEGACY_KEY) == "legacy"  # ingest and monitor: as before scopes
    assert Scope(admin=True).may_read("any-publisher")
    assert Scope.from_document({"admin": "yes"}) == Scope()  # only a stored true makes an admin
