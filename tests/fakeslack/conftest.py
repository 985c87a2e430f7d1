"""Makes the `fake_slack` fixture available to the fake's own tests."""

from tests.fakeslack.fixtures import fake_slack

__all__ = ["fake_slack"]
