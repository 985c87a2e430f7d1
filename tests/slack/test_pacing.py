"""The bot's own spacing of messages per channel (handlers/slack/pacing.py): a burst of three,
then one a second, per workspace and channel; a quiet channel fills up again."""

from __future__ import annotations

from handlers.slack.pacing import ChannelPacer


def test_three_go_at_once_then_one_a_second() -> None:
    pacer = ChannelPacer()
    waits = [pacer.reserve(("https://a", "C1"), 100.0) for _ in range(6)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]


def test_channels_and_workspaces_have_their_own_slots() -> None:
    pacer = ChannelPacer()
    for _ in range(3):
        pacer.reserve(("https://a", "C1"), 100.0)
    assert pacer.reserve(("https://a", "C2"), 100.0) == 0.0
    assert pacer.reserve(("https://b", "C1"), 100.0) == 0.0
    assert pacer.reserve(("https://a", "C1"), 100.0) == 1.0


def test_a_quiet_channel_refills_up_to_the_burst() -> None:
    pacer = ChannelPacer()
    for _ in range(5):  # two queued: slots at 101 and 102
        pacer.reserve(("https://a", "C1"), 100.0)
    assert pacer.reserve(("https://a", "C1"), 101.5) == 1.5  # after those two
    # Ten seconds later the bucket holds three again, not ten.
    assert [pacer.reserve(("https://a", "C1"), 113.0) for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]
