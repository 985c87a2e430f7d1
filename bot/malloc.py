"""Stop glibc from keeping big freed buffers resident in the long-running bot.

glibc gives an allocation its own mapping from the mmap threshold up, and raises that
threshold (to at most 32 MiB) each time such a mapping is freed. After one big output has
come and gone, the next one's text then grows inside the heap, where each move leaves the
old copy resident. Pinning the threshold keeps big buffers in mappings returned on free.
"""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
GLIBC_DEFAULT_THRESHOLD = 128 * 1024


def pin_mmap_threshold(threshold: int = GLIBC_DEFAULT_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (its own default unless told); False where the C library
    has no such setting (musl accepts and ignores it, macOS has no mallopt)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
