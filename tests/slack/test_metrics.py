"""`/metrics` on the health port, what Kubernetes users' Prometheus scrapes, read with
prometheus-client's own parser; the acks of refused commands come after their count."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fakeslack import FakeSlack
from tests.slack.conftest import BOB, StartBot
from tests.slack.test_socket_mode import wait_for_files


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        return await answer.text()


async def test_metrics_count_requests_refusals_and_durations(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    server = await start_bot()
    assert server.health_port is not None
    await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    await wait_for_files(fake_slack, 1)
    await fake_slack.send_slash_command(text="version pid=1", user_id=BOB)  # not allowed
    await fake_slack.send_slash_command(text="versoin pid=1")  # a typo

    found = samples(await scrape(server.health_port))
    ok = ("jdebug_requests_total", (("outcome", "ok"), ("strategy", "local"), ("tool", "version")))
    assert found[ok] == 1.0
    assert found[("jdebug_refusals_total", (("reason", "denied"),))] == 1.0
    assert found[("jdebug_refusals_total", (("reason", "bad_input"),))] == 1.0
    count = ("jdebug_request_duration_seconds_count", (("tool", "version"),))
    assert found[count] == 1.0
    assert found[("jdebug_requests_in_flight", ())] == 0.0
    assert found[("jdebug_requests_waiting", ())] == 0.0
    assert found[("jdebug_leader", ())] == 0.0  # no cluster, so no janitor to lead
