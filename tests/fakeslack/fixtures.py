"""The `fake_slack` pytest fixture; load it with `pytest_plugins = ["tests.fakeslack.fixtures"]`.

It lives in its own module so any test folder can use it, not only tests/fakeslack/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakeslack.server import FakeSlack


@pytest_asyncio.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """A started FakeSlack on a free port, stopped after the test."""
    async with FakeSlack() as slack:
        yield slack
