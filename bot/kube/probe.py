"""What the cluster allows, asked cheaply and cached for a short while.

Server version, SelfSubjectAccessReviews for the verbs each strategy needs, the namespace's
PodSecurity enforce level, which images were found to lack an attach tool, and (asked only at
run time, by a fixed-script exec) the app's uid and Java version. Cached for `ttl_s` so a
burst of commands costs one round of questions,
and keyed by who asks: with impersonation, one person's rights never answer for another's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cachetools import TTLCache

from bot.kube.api import KubeApi
from bot.kube.errors import KubeError, KubeNotFound
from bot.model.errors import DeadlineExceeded

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"

# Fixed texts, never built from user input.
IDENTITY_SCRIPT = "id -u; id -g"
JAVA_VERSION_SCRIPT = "java -version 2>&1 | head -n 1"
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
UNKNOWN_LEVEL = "unknown"
MISSING_NAMESPACE = "missing"


@dataclass(frozen=True)
class Access:
    allowed: bool
    reason: str


class Probe:
    def __init__(self, api: KubeApi, ttl_s: float = 60) -> None:
        self.api = api
        self._cache: TTLCache[tuple[str, ...], object] = TTLCache(maxsize=4096, ttl=ttl_s)
        # Facts about images and pods that do not change in minutes: an hour.
        self._long: TTLCache[tuple[str, ...], bool] = TTLCache(maxsize=4096, ttl=3600)
        # The identity the cluster judges: "" for the bot's own, else the impersonated one.
        who = api.identity
        self._who = "" if who is None else "\0".join((who.user, *who.groups))

    def _key(self, *parts: str) -> tuple[str, ...]:
        return (self._who, *parts)

    async def version(self) -> tuple[int, int]:
        key = self._key("version")
        if key not in self._cache:
            self._cache[key] = await self.api.server_version()
        value = self._cache[key]
        assert isinstance(value, tuple)
        return value

    async def can(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        subresource: str = "",
        group: str = "",
    ) -> Access:
        key = self._key("can", verb, resource, subresource, namespace or "", group)
        if key not in self._cache:
            allowed, reason = await self.api.can_i(
                verb, resource, namespace, subresource=subresource, group=group
            )
            self._cache[key] = Access(allowed, reason)
        value = self._cache[key]
        assert isinstance(value, Access)
        return value

    async def can_all(self, namespace: str | None, *rules: tuple[str, str, str]) -> str | None:
        """None when every (verb, resource, subresource) is allowed, else what is missing."""
        missing = []
        for verb, resource, subresource in rules:
            if not (await self.can(verb, resource, namespace, subresource)).allowed:
                full = f"{resource}/{subresource}" if subresource else resource
                missing.append(f"{verb} {full}")
        if not missing:
            return None
        # With impersonation the cluster judged someone else: say who.
        who = f' as Kubernetes user "{self.api.identity.user}"' if self.api.identity else ""
        return f"{' and '.join(missing)} in namespace {namespace}{who}"

    async def pod_security(self, namespace: str) -> str:
        """The enforce level (`privileged`, `baseline` or `restricted`); unlabeled = privileged;
        `unknown` when the namespace cannot be read (callers then assume restricted), `missing`
        when the API says it does not exist."""
        key = self._key("podsecurity", namespace)
        if key not in self._cache:
            try:
                ns = await self.api.get_namespace(namespace)
                labels = ns.get("metadata", {}).get("labels") or {}
                self._cache[key] = str(labels.get(ENFORCE_LABEL, "privileged"))
            except KubeNotFound:
                return MISSING_NAMESPACE
            except KubeError:
                # Not cached: one failed read must not steer a minute of requests away
                # from the ephemeral strategy, as if the namespace enforced restricted.
                return UNKNOWN_LEVEL
        return str(self._cache[key])

    def remember_no_tool(self, image: str) -> None:
        """The agent found no jattach or jcmd in `image`: skip it for a while."""
        self._cache[self._key("no_tool", image)] = True

    def has_no_tool(self, image: str) -> bool:
        return self._cache.get(self._key("no_tool", image)) is True

    def remember_no_shell(self, image: str) -> None:
        """`image` cannot run jdebug's bootstrap (no /bin/sh): use the debug image for a while."""
        self._long[("no_shell", image)] = True

    def has_no_shell(self, image: str) -> bool:
        return self._long.get(("no_shell", image)) is True

    def first_warning(self, namespace: str, pod: str) -> bool:
        """True the first time this is asked about a pod (in a long while), then False."""
        key = ("warned", namespace, pod)
        if key in self._long:
            return False
        self._long[key] = True
        return True

    async def stream_rules(self, subresource: str) -> tuple[tuple[str, str, str], ...]:
        """What a websocket `pods/exec` or `pods/attach` needs: `get` up to Kubernetes 1.34
        (the upgrade is a GET), `get` and `create` from 1.35 (kubernetes/kubernetes#134577,
        the AuthorizePodWebsocketUpgradeCreatePermission gate)."""
        if await self.version() >= (1, 35):
            return (("get", "pods", subresource), ("create", "pods", subresource))
        return (("get", "pods", subresource),)

    async def identity(self, namespace: str, pod: str, container: str) -> tuple[int, int] | None:
        """The uid/gid a container runs as, from a cheap `id` exec; None if unknown."""
        try:
            result = await self.api.exec(
                namespace, pod, container, ["/bin/sh", "-c", IDENTITY_SCRIPT], timeout_s=15
            )
        except (KubeError, DeadlineExceeded):
            return None
        words = result.stdout.split()
        if result.exit_code != 0 or len(words) != 2 or not all(w.isdigit() for w in words):
            return None
        return int(words[0]), int(words[1])

    async def java_major(self, namespace: str, pod: str, container: str, image: str) -> int | None:
        """The app's Java major version (`java -version` in its container), cached per image."""
        key = self._key("java_major", image)
        if key not in self._cache:
            major: int | None = None
            try:
                result = await self.api.exec(
                    namespace, pod, container, ["/bin/sh", "-c", JAVA_VERSION_SCRIPT], timeout_s=15
                )
                match = _JAVA_VERSION.search(result.stdout)
                if match:
                    first = int(match.group(1))
                    major = int(match.group(2) or 0) if first == 1 else first  # "1.8.0" is 8
            except (KubeError, DeadlineExceeded):
                pass
            self._cache[key] = major
        value = self._cache[key]
        return value if isinstance(value, int) else None
