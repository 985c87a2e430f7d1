"""The errors a user can see, each carrying the one sentence they will read.

Frontends render `JdebugError` subclasses as they are; any other exception is a bug and is
reported as "internal error (id …)" with the traceback only in the log. Catch meaning
(`TargetNotFound`), not strings.
"""

from __future__ import annotations

from dataclasses import dataclass


class JdebugError(Exception):
    """Base: `message` is what the user reads; `fix` what an admin could change."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} ({self.fix})"


class GrammarError(JdebugError):
    """The command text does not parse; the message names the bad token and the right form."""


class TargetNotFound(JdebugError):
    """No pod or JVM matches the selector."""


@dataclass(frozen=True)
class Choice:
    """One of several matching targets: how it reads, and the `key=value` that picks it
    (`pid=4242`, `pod=cowweb-7d9f`), so a frontend can offer it as a button."""

    label: str
    key: str
    value: str


class AmbiguousTarget(JdebugError):
    """Several pods or JVMs match; the choices are listed, nothing ran."""

    def __init__(self, message: str, choices: tuple[Choice, ...] = ()) -> None:
        super().__init__(message)
        self.choices = choices


class StrategyUnavailable(JdebugError):
    """No way to get next to the JVM works here; the message lists each reason."""


class StrategyFailed(StrategyUnavailable):
    """A strategy found at run time that it cannot work here (404 subresource, RBAC or
    PodSecurity 403); the session goes on with the next strategy."""


class AttachFailed(JdebugError):
    """The JDK tool ran but could not attach or the JVM refused; carries the JVM's message."""


class PolicyDenied(JdebugError):
    """The requester may not run this tool on this target (policy or allow-list).
    `contact` is the admin-written part of the message (Slack markup such as a channel link
    is meant to work there); everything else in it is plain text."""

    def __init__(self, message: str, contact: str | None = None) -> None:
        super().__init__(message)
        self.contact = contact


class Draining(JdebugError):
    """This replica is shutting down and takes no new work."""


class DeadlineExceeded(JdebugError):
    """A step did not finish within its deadline."""


class Busy(JdebugError):
    """Too many requests, the user's own or everyone's; nothing ran, and `retry_after_s`
    (a whole number, at least 1) says when another try can be admitted."""

    def __init__(self, why: str, retry_after_s: int) -> None:
        super().__init__(f"jdebug is busy: {why}; try again in {retry_after_s} s.")
        self.why = why
        self.retry_after_s = retry_after_s


class Undeliverable(JdebugError):
    """The frontend could not deliver the answer (Slack refused a post); `code` is the
    frontend's own error code, for the audit record."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
