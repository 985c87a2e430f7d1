"""The long-running bot pins glibc's mmap threshold, so big freed buffers are returned."""

from __future__ import annotations

import platform

import pytest

from bot.malloc import GLIBC_DEFAULT_THRESHOLD, pin_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_its_own_default_threshold_pinned() -> None:
    assert pin_mmap_threshold(GLIBC_DEFAULT_THRESHOLD)
