"""Monitoring rules: which requests are monitored (the spec answers 403 for the others).

A rule matches a request when every condition it states matches: ``app`` (the API key's app name,
exact), ``userAgent`` and ``friendlyId`` (regular expressions, searched), ``clientIp`` (an address
or CIDR block). A request is monitored when it matches at least one ``include`` rule (or there are
none) and no ``exclude`` rule.

``friendlyId`` is checked against every identifier the request concerns: the body's friendlyId,
the ``X-Authenticated-User`` login, and the friendlyId and login of each stored user the request
is about (the tracked user of PATCH, identify, consents and events, the owner of a friendlyId),
so every request about an excluded user is refused, whatever it carries. A rule that states
``friendlyId`` matches no request without any of them.

The service checks twice: the exclusions against the request alone, before reading anything (an
exclusion that matches then matches whatever the stored users add), then every rule once the
users are read (an inclusion may match only through them).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any

CONDITIONS = ("app", "userAgent", "clientIp", "friendlyId")


@dataclass(frozen=True)
class RequestFacts:
    app: str
    user_agent: str
    client_ip: str
    # friendlyIds and logins the request concerns (see the module's docstring).
    identifiers: tuple[str, ...] = ()

    def with_users(self, *users: dict[str, Any] | None) -> "RequestFacts":
        """These facts plus the friendlyId and login of each stored user given."""
        found = [user.get(name) for user in users if user for name in ("friendlyId", "login")]
        return replace(self, identifiers=tuple(dict.fromkeys([*self.identifiers, *(i for i in found if i)])))


@dataclass(frozen=True)
class Rule:
    app: str | None = None
    user_agent: re.Pattern | None = None
    client_ip: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    friendly_id: re.Pattern | None = None
    description: str = ""

    def matches(self, facts: RequestFacts) -> bool:
        if self.app is not None and facts.app != self.app:
            return False
        if self.user_agent is not None and not self.user_agent.search(facts.user_agent):
            return False
        if self.client_ip is not None and not _in_network(facts.client_ip, self.client_ip):
            return False
        if self.friendly_id is not None and not any(self.friendly_id.search(i) for i in facts.identifiers):
            return False
        return True

    @classmethod
    def from_dict(cls, raw: Any) -> "Rule":
        """Raises ValueError naming what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("a rule is a mapping of conditions")
        unknown = set(raw) - set(CONDITIONS) - {"description"}
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; known: {', '.join(CONDITIONS)}")
        if not set(raw) & set(CONDITIONS):
            raise ValueError(f"a rule states at least one of {', '.join(CONDITIONS)}")
        try:
            return cls(
                app=str(raw["app"]) if "app" in raw else None,
                user_agent=re.compile(str(raw["userAgent"])) if "userAgent" in raw else None,
                client_ip=ipaddress.ip_network(str(raw["clientIp"]), strict=False) if "clientIp" in raw else None,
                friendly_id=re.compile(str(raw["friendlyId"])) if "friendlyId" in raw else None,
                description=str(raw.get("description", "")),
            )
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"description": self.description} if self.description else {}
        if self.app is not None:
            raw["app"] = self.app
        if self.user_agent is not None:
            raw["userAgent"] = self.user_agent.pattern
        if self.client_ip is not None:
            raw["clientIp"] = str(self.client_ip)
        if self.friendly_id is not None:
            raw["friendlyId"] = self.friendly_id.pattern
        return raw


@dataclass(frozen=True)
class MonitoringRules:
    include: tuple[Rule, ...] = field(default_factory=tuple)
    exclude: tuple[Rule, ...] = field(default_factory=tuple)

    def excluding(self, facts: RequestFacts) -> str | None:
        """Why the request is not monitored, or None when it is."""
        if self.include and not any(rule.matches(facts) for rule in self.include):
            return "no inclusion rule matches"
        return self.excluded(facts)

    def excluded(self, facts: RequestFacts) -> str | None:
        """The exclusion rule that matches, if any: a refusal that more identifiers cannot undo."""
        for rule in self.exclude:
            if rule.matches(facts):
                return f"exclusion rule {rule.description or rule.to_dict()} matches"
        return None

    @classmethod
    def from_dict(cls, raw: Any) -> "MonitoringRules":
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or set(raw) - {"include", "exclude"}:
            raise ValueError("rules are a mapping with `include` and/or `exclude` lists")
        parsed = {}
        for kind in ("include", "exclude"):
            items = raw.get(kind) or []
            if not isinstance(items, list):
                raise ValueError(f"rules.{kind} must be a list")
            rules = []
            for index, item in enumerate(items):
                try:
                    rules.append(Rule.from_dict(item))
                except ValueError as exc:
                    raise ValueError(f"rules.{kind}[{index}]: {exc}") from None
            parsed[kind] = tuple(rules)
        return cls(**parsed)

    def to_dict(self) -> dict[str, Any]:
        return {"include": [r.to_dict() for r in self.include], "exclude": [r.to_dict() for r in self.exclude]}


def _in_network(address: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False
