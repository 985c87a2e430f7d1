"""`Impersonate-*` headers: check the caller may act as someone else, then become them.

Follows the apiserver's filter (kubernetes/kubernetes, staging/src/k8s.io/apiserver/pkg/
endpoints/filters/impersonation.go, `WithImpersonation` and `buildImpersonationRequests`):
each user, group, uid and extra value is its own `impersonate` check, in that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDictProxy

from kubesim.apiserver.auth import User, service_account_groups
from kubesim.apiserver.rbac import Attributes, Rbac, denial_message
from kubesim.status import forbidden

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
SA_PREFIX = "system:serviceaccount:"
AUTHENTICATION_GROUP = "authentication.k8s.io"
ANONYMOUS = "system:anonymous"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"

# serviceaccount.SplitUsername: namespace a DNS-1123 label, name a DNS-1123 subdomain.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class Wanted:
    """One thing to impersonate, as the filter's ObjectReference: Kind, Namespace, Name,
    APIVersion and FieldPath (the extra key)."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    field_path: str = ""

    def go_value(self) -> str:
        """Go's `%v` of the ObjectReference (Kind Namespace Name UID APIVersion
        ResourceVersion FieldPath), which the "without a user" error prints."""
        fields = (self.kind, self.namespace, self.name, "", self.api_version, "", self.field_path)
        return "{" + " ".join(fields) + "}"

    def attributes(self) -> Attributes:
        if self.kind == "ServiceAccount":
            return Attributes("impersonate", "", "serviceaccounts", "", self.namespace, self.name)
        if self.kind == "User":
            return Attributes("impersonate", "", "users", name=self.name)
        if self.kind == "Group":
            return Attributes("impersonate", "", "groups", name=self.name)
        if self.kind == "UserExtra":
            return Attributes(
                "impersonate", AUTHENTICATION_GROUP, "userextras", self.field_path, name=self.name
            )
        return Attributes("impersonate", AUTHENTICATION_GROUP, "uids", name=self.name)


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) for `system:serviceaccount:NS:NAME`, else None (a plain user)."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    namespace, name = parts
    if len(namespace) > 63 or not _LABEL.fullmatch(namespace):
        return None
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        return None
    return namespace, name


def wanted_from(headers: CIMultiDictProxy[str], request_uri: str) -> list[Wanted]:
    """Every impersonation the headers ask for; groups, extras or a uid without a user are
    the apiserver's plain-text 500 (`responsewriters.InternalError`), not a Status."""
    wanted: list[Wanted] = []
    user = headers.get(USER_HEADER, "")
    if user:
        account = split_service_account(user)
        if account:
            wanted.append(Wanted("ServiceAccount", account[1], namespace=account[0]))
        else:
            wanted.append(Wanted("User", user))
    wanted += [Wanted("Group", group) for group in headers.getall(GROUP_HEADER, [])]
    for header, value in headers.items():
        if header.lower().startswith(EXTRA_PREFIX):
            key = unquote(header[len(EXTRA_PREFIX) :].lower())
            wanted.append(
                Wanted("UserExtra", value, api_version="authentication.k8s.io/v1", field_path=key)
            )
    uid = headers.get(UID_HEADER, "")
    if uid:
        wanted.append(Wanted("UID", uid, api_version="authentication.k8s.io/v1"))
    if wanted and not user:
        listed = "[" + " ".join(w.go_value() for w in wanted) + "]"
        # The request URI is printed with Go's %q, then & < > are HTML-escaped.
        text = (
            f'Internal Server Error: "{request_uri}": '
            f"requested {listed} without impersonating a user"
        )
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        raise web.HTTPInternalServerError(text=text + "\n")
    return wanted


def impersonate(
    requestor: User, headers: CIMultiDictProxy[str], request_uri: str, rbac: Rbac
) -> User:
    """The user the request runs as: `requestor` itself without `Impersonate-*` headers,
    else the impersonated identity once RBAC let `requestor` impersonate every part of it."""
    wanted = wanted_from(headers, request_uri)
    if not wanted:
        return requestor
    groups_specified = bool(headers.getall(GROUP_HEADER, []))
    name, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for item in wanted:
        attrs = item.attributes()
        allowed, reason = rbac.authorize(requestor, attrs)
        if not allowed:
            qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
            why = denial_message(requestor, attrs, reason)
            raise forbidden(qualified, attrs.name, why, attrs.group)
        if item.kind == "ServiceAccount":
            name = f"{SA_PREFIX}{item.namespace}:{item.name}"
            if not groups_specified:
                groups = list(service_account_groups(item.namespace))
        elif item.kind == "User":
            name = item.name
        elif item.kind == "Group":
            groups.append(item.name)
        elif item.kind == "UserExtra":
            extra.setdefault(item.field_path, []).append(item.name)
        else:
            uid = item.name
    # A named user is always authenticated unless the groups say otherwise; the anonymous
    # user is always unauthenticated.
    if name != ANONYMOUS:
        if ALL_AUTHENTICATED not in groups and ALL_UNAUTHENTICATED not in groups:
            groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in groups:
        groups.append(ALL_UNAUTHENTICATED)
    return User(
        name,
        tuple(groups),
        uid=uid,
        extra=tuple((key, tuple(values)) for key, values in extra.items()),
        impersonator=requestor.name,
    )
