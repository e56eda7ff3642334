"""Secret references: env:NAME locally, Secret Manager versions in production; values never echoed."""

from __future__ import annotations

import pytest

from shared.forwarding.secret_refs import SecretResolver, SecretUnavailable, ref_problem


@pytest.mark.parametrize("ref", ["env:LOCAL_WEBHOOK_SECRET", "env:_X1",
                                 "projects/my-project/secrets/partner-hook/versions/latest",
                                 "projects/123456/secrets/partner_hook/versions/7"])
def test_valid_references(ref):
    assert ref_problem(ref) is None


@pytest.mark.parametrize("ref", ["whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "mongodb://u:p@db.example/x", "env:",
                                 "env:1ABC", "projects/p/secrets/s", "projects/p/secrets/s/versions/0", "", None, 42])
def test_invalid_references_are_refused_without_echoing_them(ref):
    problem = ref_problem(ref)
    assert problem is not None
    if isinstance(ref, str) and len(ref) > 8:
        assert ref not in problem


def test_env_references_resolve_and_are_cached_for_a_while():
    environ = {"HOOK_SECRET": "whsec_first"}
    now = [0.0]
    resolver = SecretResolver(cache_seconds=10, clock=lambda: now[0], environ=environ)
    assert resolver.resolve("env:HOOK_SECRET") == "whsec_first"
    environ["HOOK_SECRET"] = "whsec_second"
    assert resolver.resolve("env:HOOK_SECRET") == "whsec_first"
    now[0] = 11
    assert resolver.resolve("env:HOOK_SECRET") == "whsec_second"


def test_a_missing_variable_names_the_reference_only():
    with pytest.raises(SecretUnavailable, match="env:ABSENT is not set"):
        SecretResolver(cache_seconds=10, environ={}).resolve("env:ABSENT")


def test_a_value_given_as_reference_is_refused_unread():
    with pytest.raises(SecretUnavailable) as raised:
        SecretResolver(cache_seconds=10, environ={}).resolve("whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")
    assert "whsec_c2Vj" not in str(raised.value)
