"""`cluster=NAME`: one jdebug, several clusters (two kubesims), named in a clusters file.

The answer comes from the cluster named, the audit record names it, the policy's `clusters:`
is honoured (a request without cluster= is judged for the default cluster), and an unknown
name gets "did you mean".
"""

from __future__ import annotations

import getpass
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from handlers.cli import terminal_service
from handlers.terminal import EXIT_FAILED, EXIT_OK, run_text
from kubesim import KubeSim
from tests.strategies.conftest import BOT, HERE, RBAC, needs_root, wait_until_all_running
from tests.support.settings import serve_settings

pytestmark = needs_root
NAMESPACES = HERE / "manifests" / "one-cowweb.yaml"


def cowweb(path: Path, jdk: int) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "cowweb", "namespace": "apps"},
                "spec": {"containers": [{"name": "app", "image": f"jdebug.local/cowweb:{jdk}"}]},
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, KubeSim]]:
    folder = tmp_path_factory.mktemp("clusters")
    with (
        KubeSim(manifests=[NAMESPACES, RBAC, cowweb(folder / "a.yaml", 17)]) as east,
        KubeSim(manifests=[NAMESPACES, RBAC, cowweb(folder / "b.yaml", 21)]) as west,
    ):
        wait_until_all_running(east)
        wait_until_all_running(west)
        yield {"east": east, "west": west}


def clusters_file(tmp_path: Path, sims: dict[str, KubeSim]) -> Path:
    path = tmp_path / "clusters.yaml"
    entries = {name: {"kubeconfig": str(sim.kubeconfig(BOT))} for name, sim in sims.items()}
    path.write_text(yaml.safe_dump({"default": "east", "clusters": entries}))
    return path


async def run(text: str, tmp_path: Path, **settings: object) -> tuple[int, str]:
    core, _ = serve_settings(namespace="apps", audit_file=tmp_path / "audit.jsonl", **settings)
    out = io.StringIO()
    rc = await run_text(text, terminal_service(core), out, err=io.StringIO())
    return rc, out.getvalue()


def audits(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


async def test_cluster_picks_the_cluster_and_the_audit_names_it(clusters, tmp_path: Path):
    file = clusters_file(tmp_path, clusters)
    rc_east, east = await run("version pod=cowweb", tmp_path, clusters_file=file)
    rc_west, west = await run("version pod=cowweb cluster=west", tmp_path, clusters_file=file)
    assert (rc_east, rc_west) == (EXIT_OK, EXIT_OK)
    assert "JDK 17" in east and "JDK 21" not in east
    assert "JDK 21" in west and "JDK 17" not in west
    first, second = audits(tmp_path)
    assert first["source"] == "terminal" and second["source"] == "terminal"
    assert first["user"] == getpass.getuser()
    assert first["runs"][0]["cluster"] == "east"  # type: ignore[index]
    assert second["runs"][0]["cluster"] == "west"  # type: ignore[index]


async def test_an_unknown_cluster_gets_did_you_mean_and_runs_nothing(clusters, tmp_path: Path):
    file = clusters_file(tmp_path, clusters)
    rc, text = await run("version pod=cowweb cluster=wset", tmp_path, clusters_file=file)
    assert rc == EXIT_FAILED
    assert "there is no cluster wset; did you mean west?" in text


async def test_the_policy_clusters_list_is_honoured(clusters, tmp_path: Path):
    file = clusters_file(tmp_path, clusters)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        yaml.safe_dump(
            {
                "contact": "the platform team",
                "rules": [
                    {
                        "name": "east-only",
                        "subjects": {"terminal_users": ["*"]},
                        "clusters": ["east"],
                        "namespaces": ["apps"],
                        "tools": ["read-only"],
                    }
                ],
            }
        )
    )
    settings = {"clusters_file": file, "policy_file": policy}
    rc_default, default = await run("version pod=cowweb", tmp_path, **settings)
    rc_west, west = await run("version pod=cowweb cluster=west", tmp_path, **settings)
    assert rc_default == EXIT_OK and "JDK 17" in default
    assert rc_west == EXIT_FAILED
    assert "in cluster `west`, which you are not permitted to run" in west
    allowed, denied = audits(tmp_path)
    assert allowed["rule"] == "east-only"
    assert denied["decision"] == "deny" and "cluster `west`" in str(denied["reason"])
