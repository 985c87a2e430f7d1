"""What handling one API request adds besides its answer: `Warning` headers and audit
annotations, noted from wherever they arise (admission, say) through a context variable, as
the apiserver's warning.AddWarning and audit.AddAuditAnnotation do through the request's
context. Outside a request (the manifest loader, the controllers) notes are dropped, as a
controller's client would only log them.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class RequestNotes:
    warnings: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)


CURRENT: ContextVar[RequestNotes | None] = ContextVar("kubesim_request_notes", default=None)


def warn(*texts: str) -> None:
    notes = CURRENT.get()
    if notes is not None:
        notes.warnings.extend(texts)


def annotate(annotations: dict[str, str]) -> None:
    notes = CURRENT.get()
    if notes is not None:
        notes.annotations.update(annotations)
