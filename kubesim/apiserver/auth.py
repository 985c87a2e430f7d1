"""Who is calling: bearer tokens to users and groups, plus `Impersonate-*` headers.

The admin token maps to `kubernetes-admin` in `system:masters`; each ServiceAccount token maps to
`system:serviceaccount:NS:NAME` with the groups a real token authenticator adds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Who authenticated, when this user came from `Impersonate-*` headers
    # (kubesim/apiserver/impersonation.py).
    impersonator: str = ""

    @property
    def is_master(self) -> bool:
        return "system:masters" in self.groups


ADMIN = User("kubernetes-admin", ("system:masters", "system:authenticated"))


def service_account_groups(namespace: str) -> tuple[str, str]:
    """serviceaccount.MakeGroupNames: the groups every ServiceAccount of `namespace` is in."""
    return ("system:serviceaccounts", f"system:serviceaccounts:{namespace}")


def service_account_user(namespace: str, name: str) -> User:
    return User(
        f"system:serviceaccount:{namespace}:{name}",
        (*service_account_groups(namespace), "system:authenticated"),
    )


@dataclass
class Tokens:
    by_token: dict[str, User] = field(default_factory=dict)

    def issue(self, user: User) -> str:
        for token, known in self.by_token.items():
            if known == user:
                return token
        token = secrets.token_urlsafe(24)
        self.by_token[token] = user
        return token

    def user_for(self, authorization: str) -> User | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.by_token.get(token.strip())
