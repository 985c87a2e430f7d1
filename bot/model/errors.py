"""The errors a user can see, each carrying the one sentence they will read.

Frontends render `JdebugError` subclasses as they are; any other exception is a bug and is
reported as "internal error (id …)" with the traceback only in the log. Catch meaning
(`TargetNotFound`), not strings.
"""

from __future__ import annotations


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


class AmbiguousTarget(JdebugError):
    """Several pods, containers or JVMs match; the candidates are listed, nothing ran."""

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = candidates


class StrategyUnavailable(JdebugError):
    """No way to get next to the JVM works here; the message lists each reason."""


class StrategyFailed(StrategyUnavailable):
    """A strategy found at run time that it cannot work here (404 subresource, RBAC or
    PodSecurity 403); the session goes on with the next strategy."""


class AttachFailed(JdebugError):
    """The JDK tool ran but could not attach or the JVM refused; carries the JVM's message."""


class PolicyDenied(JdebugError):
    """The requester may not run this tool on this target."""


class DeadlineExceeded(JdebugError):
    """A step did not finish within its deadline."""


class Busy(JdebugError):
    """Too many requests, the user's own or everyone's; nothing ran, and `retry_after_s`
    (a whole number, at least 1) says when another try can be admitted."""

    def __init__(self, why: str, retry_after_s: int) -> None:
        super().__init__(f"jdebug is busy: {why}; try again in {retry_after_s} s.")
        self.why = why
        self.retry_after_s = retry_after_s
