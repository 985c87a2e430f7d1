"""Everything under tests/bench is a benchmark: marked `bench`, run by `make bench`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/bench/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.bench)
