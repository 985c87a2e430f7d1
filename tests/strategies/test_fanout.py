"""`all` with selector=/deploy=: every matching pod answers on its own; one failing pod does
not hide the others; without `all` several pods are listed and nothing runs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.errors import AmbiguousTarget
from bot.session import run_each, run_request
from handlers.terminal import EXIT_FAILED, run_text
from kubesim import KubeSim
from tests.strategies.conftest import RBAC, backend_for, needs_root, request, wait_until_all_running

pytestmark = needs_root
HERD = Path(__file__).parent / "manifests" / "herd.yaml"


@pytest.fixture(scope="module")
def sim():
    with KubeSim(manifests=[HERD, RBAC]) as running:
        wait_until_all_running(running)
        yield running


async def test_selector_all_answers_for_every_pod_and_isolates_the_failure(sim):
    outcomes = await run_each(request("version selector=app=herd ns=herd all"), backend_for(sim))
    assert [o.target for o in outcomes] == [f"herd/cow-{i}" for i in range(1, 6)]
    answered = {o.target: o.result for o in outcomes if o.result}
    assert set(answered) == {f"herd/cow-{i}" for i in range(1, 5)}
    assert "JDK 17" in answered["herd/cow-3"].raw.steps[0].text
    failed = [o for o in outcomes if o.error]
    assert [o.target for o in failed] == ["herd/cow-5"]
    assert "DisableAttachMechanism" in failed[0].error.message


async def test_deploy_all_follows_the_deployment_selector(sim):
    outcomes = await run_each(request("flags deploy=web ns=herd all"), backend_for(sim))
    assert len(outcomes) == 2 and all(o.result for o in outcomes)
    assert all(o.target.startswith("herd/web-") for o in outcomes)


async def test_deploy_without_all_lists_the_pods_and_runs_nothing(sim):
    with pytest.raises(AmbiguousTarget) as excinfo:
        await run_request(request("flags deploy=web ns=herd"), backend_for(sim))
    assert len(excinfo.value.candidates) == 2


async def test_terminal_prints_one_answer_per_pod_and_the_failure(sim):
    out = io.StringIO()
    rc = await run_text(
        "version selector=app=herd ns=herd all", backend_for(sim), out, err=io.StringIO()
    )
    text = out.getvalue()
    assert rc == EXIT_FAILED
    assert text.startswith("━━ jdebug version on 5 pods: 4 answered, 1 failed")
    assert text.count("┏ jdebug version") == 4
    assert "✖ herd/cow-5: " in text
