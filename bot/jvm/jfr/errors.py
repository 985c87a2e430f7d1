"""The one exception the JFR reader raises inside itself, caught where a chunk or event ends.

A `FormatError` carries the sentence that goes into the recording's notes; the public readers
never let it (or an `IndexError` from bytes that stop early) reach their callers.
"""

from __future__ import annotations


class FormatError(Exception):
    """The bytes do not follow the JFR format; `str(error)` says where and how."""
