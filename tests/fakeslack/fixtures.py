"""The `fake_slack` pytest fixture; load it with `pytest_plugins = ["tests.fakeslack.fixtures"]`.

It lives in its own module so any test folder can use it, not only tests/fakeslack/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.fakeslack.server import FakeSlack


@pytest_asyncio.fixture
async def fake_slack(request: pytest.FixtureRequest) -> AsyncIterator[FakeSlack]:
    """A started FakeSlack on a free port, stopped after the test. Its bot has the scopes
    deploy/slack-app-manifest.yaml grants, or those of `@pytest.mark.slack_scopes(...)`."""
    marker = request.node.get_closest_marker("slack_scopes")
    scopes = tuple(marker.args) if marker is not None else None
    async with FakeSlack(scopes=scopes) as slack:
        yield slack
