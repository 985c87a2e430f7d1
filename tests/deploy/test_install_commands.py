"""README's "Install in a cluster" run block by block with kubectl against kubesim: the bot's
pods become Ready, connect to the fake Slack and answer `/jdebug help`; restricting namespaces,
upgrading (with step 6's mirrored debug image, used by a real diagnostic) and uninstalling do
what the README says, leaving nothing behind. The `docker` steps are left out by name (and
checked to be only those). Needs
root (kubesim runs the bot's pods in Linux namespaces)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from kubesim import KubeSim
from kubesim.controllers.deployments import is_ready
from tests.deploy.conftest import BOT_NAMESPACE, DEPLOY, REPO
from tests.fakeslack import FakeSlack
from tests.kubesim.conftest import needs_root
from tests.support.own_port_probe import on_own_ports

README = REPO / "README.md"
SECTION = "## Install in a cluster"
FENCE = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M)
USER, OTHER = "U0ONCALL01", "U0ONCALL02"
# The README steps whose commands kubesim cannot run, and why.
NOT_RUNNABLE = {
    "2. The image": "needs docker and a registry; kubesim has neither (its image catalog runs "
    "this checkout as jdebug:0.1.0)",
    "6. Mirror the debug image": "needs docker and a registry; kubesim has neither (the "
    "JDEBUG_DEBUG_IMAGE setting the step adds is applied in the upgrade, naming kubesim's "
    "copy of the image)",
}
RUN = ("3. Your overlay", "4. Install", "5. Restrict namespaces", "7. Upgrade", "8. Uninstall")
OVERLAY = "my-jdebug/kustomization.yaml"
DENIED = "You may not run jdebug here"
# Step 6's setting (quoted in its prose); kubesim's catalog has jdebug's debug image (a JDK 25
# with jattach) under this name.
MIRROR_SETTING = re.compile(r"`- (JDEBUG_DEBUG_IMAGE=registry\.example\.com/jdebug-debug\S*)`")
MIRRORED = "registry.example.com/jdebug-debug:0.1.0"
# ../shared/seed/cowweb.yaml in `apps`: a root JVM on a JRE 11 image.
COWWEB = """
apiVersion: v1
kind: Pod
metadata: {name: cowweb, namespace: apps}
spec:
  containers:
  - {name: cowweb, image: registry.hub.docker.com/hhayakaw/cowweb:v2.1}
"""
# The sample app on a distroless JRE 21: no shell, so its debug container needs the debug image.
DISTROLESS = """
apiVersion: v1
kind: Pod
metadata: {name: cowweb-distroless, namespace: apps}
spec:
  containers:
  - {name: cowweb, image: jdebug.local/cowweb:21-distroless}
"""


def install_steps() -> dict[str, list[str]]:
    """Each `### ` step of the README's install section -> its ```sh blocks."""
    text = README.read_text()
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    steps: dict[str, list[str]] = {}
    for part in section.split("\n### ")[1:]:
        title, _, body = part.partition("\n")
        blocks = FENCE.findall(body)
        if blocks:
            steps[title.strip()] = blocks
    return steps


def test_every_install_step_with_commands_is_run_or_named_as_not_runnable() -> None:
    steps = install_steps()
    assert set(steps) == set(RUN) | set(NOT_RUNNABLE)
    assert [s for s in steps if s in RUN] == list(RUN)  # the order the test runs them in


def test_the_steps_not_run_are_exactly_the_docker_ones() -> None:
    """A step is left out only for needing docker: every command of each step named in
    NOT_RUNNABLE is a docker command, and no other step has one."""
    commands = {
        title: [line.split()[0] for block in blocks for line in block.splitlines() if line]
        for title, blocks in install_steps().items()
    }
    with_docker = {title for title, programs in commands.items() if "docker" in programs}
    assert with_docker == set(NOT_RUNNABLE)
    for title in NOT_RUNNABLE:
        assert set(commands[title]) == {"docker"}, f"{title!r} has more than docker commands"


class Placeholders:
    """The README's placeholders replaced by the fake Slack's and kubesim's values; each one
    must be met somewhere, so a README change cannot silently bypass it."""

    def __init__(self, slack: FakeSlack) -> None:
        self.rules: list[tuple[str, str]] = [
            # The fake Slack is not slack.com: its API URL goes into the Secret too.
            (
                "--from-literal=SLACK_APP_TOKEN=xapp-...",
                f"--from-literal=SLACK_APP_TOKEN={slack.app_token} "
                f"--from-literal=SLACK_API_URL={slack.api_url}",
            ),
            ("xoxb-...", slack.bot_token),
            # kubesim's catalog knows the bot's image by its kustomize name.
            ("newName: registry.example.com/jdebug\n", "newName: jdebug\n"),
            # kubesim's pods share the host's network, so the two replicas cannot both
            # listen on the health port 8081: each takes a free one.
            (
                "      - JDEBUG_ALLOWED_USERS=U0123ABCDEF\n",
                f"      - JDEBUG_ALLOWED_USERS={USER}\n      - JDEBUG_HEALTH_PORT=0\n",
            ),
        ]
        self.used: set[str] = set()

    def apply(self, block: str) -> str:
        for old, new in self.rules:
            if old in block:
                self.used.add(old)
                block = block.replace(old, new)
        return block

    def all_used(self) -> bool:
        return self.used == {old for old, _ in self.rules}


class Shell:
    """Runs README blocks with bash in a copy of the repository's deploy/, kubectl pointing
    at kubesim as an admin. In the copy the bot's probes find the free port each replica
    takes (JDEBUG_HEALTH_PORT=0, see Placeholders), as kubesim's pods share one network."""

    def __init__(self, sim: KubeSim, workdir: Path) -> None:
        self.workdir = workdir
        shutil.copytree(DEPLOY, workdir / "deploy")
        bot = workdir / "deploy" / "base" / "deployment.yaml"
        docs = [d for d in yaml.safe_load_all(bot.read_text()) if d]
        bot.write_text(yaml.safe_dump_all(on_own_ports(docs)))
        self.env = {
            **os.environ,
            "KUBECONFIG": str(sim.kubeconfig("admin")),
            "KUBECACHEDIR": str(workdir / ".kubecache"),
        }

    async def run(self, script: str, check: bool = True) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            script,
            cwd=self.workdir,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
        text = out.decode()
        assert proc.returncode == 0 or not check, f"{script}\nfailed:\n{text}"
        return proc.returncode or 0, text

    async def get(self, *args: str) -> Any:
        """`kubectl get ... -o json`, or None when it is not found."""
        code, out = await self.run(f"kubectl get {' '.join(args)} -o json", check=False)
        if code != 0:
            assert "NotFound" in out, out
            return None
        return json.loads(out)

    def edit_overlay(self, old: str, new: str) -> None:
        """What the README asks you to edit by hand in your overlay."""
        path = self.workdir / OVERLAY
        text = path.read_text()
        assert old in text, text
        path.write_text(text.replace(old, new))


async def bot_pods_settle(shell: Shell, slack: FakeSlack, after: int) -> list[dict[str, Any]]:
    """Once rollout status has returned: exactly the Deployment's pods remain, all Ready, and
    each holds one Socket Mode connection opened after connection `after`."""
    for _ in range(600):
        pods = (await shell.get("pods", "-n", BOT_NAMESPACE))["items"]
        if len(pods) == 2 and all(is_ready(p) for p in pods):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"bot pods never settled: {pods}")
    await slack.wait_for(
        lambda s: len(s.connections) == 2 and all(c.id > after for c in s.connections),
        timeout=60,
    )
    return list(pods)


async def answers_as_installed(slack: FakeSlack, allowed: str, denied: str) -> None:
    """`/jdebug help` lists the catalog; the allow-list from the overlay reached the bot, and
    an allowed request reaches the API server from inside the cluster."""
    help_ack = await slack.send_slash_command(text="help", user_id=denied)
    assert help_ack.payload is not None and "threaddump" in help_ack.payload["text"]
    refused = await slack.send_slash_command(text="jps pod=nosuchapp", user_id=denied)
    assert refused.payload is not None and DENIED in refused.payload["text"]
    before = len(slack.responses)
    taken = await slack.send_slash_command(text="jps pod=nosuchapp", user_id=allowed)
    assert taken.payload is not None and DENIED not in taken.payload["text"]
    told = await slack.wait_for(lambda s: s.responses[before:], timeout=30)
    assert "nosuchapp" in told[0].text


async def diagnose(
    shell: Shell, slack: FakeSlack, manifest: str, pod: str, jdk: str
) -> list[dict[str, Any]]:
    """`version` of the JDK `jdk` JVM in `pod` (applied from `manifest`): the debug containers
    it left in the pod spec."""
    await shell.run(f"kubectl apply -f - <<'EOF'\n{manifest}\nEOF")
    await shell.run(f"kubectl -n apps wait --for=condition=Ready pod/{pod} --timeout=60s")
    before = set(slack.files)
    await slack.send_slash_command(text=f"version pod={pod} ns=apps", user_id=OTHER)
    files = await slack.wait_for(
        lambda s: [f for k, f in s.files.items() if k not in before and f.completed], timeout=60
    )
    assert f"JDK {jdk}" in (files[0].data or b"").decode()
    found = await shell.get(f"pod/{pod}", "-n", "apps")
    await shell.run(f"kubectl -n apps delete pod {pod}")
    return list(found["spec"].get("ephemeralContainers") or [])


async def diagnoses_with_the_mirrored_image(shell: Shell, slack: FakeSlack) -> None:
    """A JVM whose image has a shell is debugged from that image (already on the node, nothing
    to pull); one on a distroless image, from the debug image the overlay names."""
    (debug,) = await diagnose(shell, slack, COWWEB, "cowweb", "11")
    assert debug["image"].startswith("docker.io/hhayakaw/cowweb@sha256:"), debug["image"]
    (debug,) = await diagnose(shell, slack, DISTROLESS, "cowweb-distroless", "21")
    assert debug["image"] == MIRRORED


@needs_root
async def test_readme_install_upgrade_and_uninstall_commands_work_against_kubesim(
    tmp_path: Path,
) -> None:
    steps = install_steps()
    async with FakeSlack() as slack:
        with KubeSim() as sim:
            shell = Shell(sim, tmp_path)
            placeholders = Placeholders(slack)

            async def step(title: str) -> None:
                for block in steps[title]:
                    await shell.run(placeholders.apply(block))

            await step("3. Your overlay")
            await step("4. Install")
            # Readiness follows the Slack connection, which the fake may ask a bot to renew
            # (as Slack does): the count can dip for a moment after rollout status returned.
            await shell.run(
                f"kubectl -n {BOT_NAMESPACE} wait deployment/jdebug --timeout=60s "
                "--for=jsonpath='{.status.availableReplicas}'=2"
            )
            await bot_pods_settle(shell, slack, after=0)
            await answers_as_installed(slack, USER, OTHER)
            assert await shell.get("clusterrole/jdebug") is not None

            # Restrict namespaces: switch the overlay, as the README says.
            connected = max(c.id for c in slack.socket.history)
            shell.edit_overlay("../deploy/overlays/socket-mode", "../deploy/overlays/namespaced")
            await step("5. Restrict namespaces")
            pods = await bot_pods_settle(shell, slack, after=connected)
            assert await shell.get("clusterrole/jdebug") is None
            assert await shell.get("clusterrolebinding/jdebug") is None
            assert await shell.get("role/jdebug-node-pods", "-n", BOT_NAMESPACE) is None
            assert await shell.get("role/jdebug", "-n", "apps") is not None
            namespace = await shell.get(f"namespace/{BOT_NAMESPACE}")
            labels = namespace["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
            await answers_as_installed(slack, USER, OTHER)

            # Upgrade: changed settings (the allow-list, step 6's mirrored debug image) roll
            # new pods that use them.
            connected = max(c.id for c in slack.socket.history)
            (setting,) = MIRROR_SETTING.findall(README.read_text())
            mirror = setting.split("=")[0] + f"={MIRRORED}"  # kubesim's for the placeholder
            shell.edit_overlay(
                f"JDEBUG_ALLOWED_USERS={USER}\n",
                f"JDEBUG_ALLOWED_USERS={OTHER}\n      - {mirror}\n",
            )
            await step("7. Upgrade")
            upgraded = await bot_pods_settle(shell, slack, after=connected)
            assert not {p["metadata"]["uid"] for p in pods} & {
                p["metadata"]["uid"] for p in upgraded
            }
            await answers_as_installed(slack, OTHER, USER)
            await diagnoses_with_the_mirrored_image(shell, slack)

            await step("8. Uninstall")
            assert placeholders.all_used()
            assert await shell.get(f"namespace/{BOT_NAMESPACE}") is None
            assert await shell.get("clusterrole/jdebug") is None
            assert await shell.get("role/jdebug", "-n", "apps") is None
            assert await shell.get("namespace/apps") is not None  # yours: it stays
            assert (await shell.get("pods", "-A"))["items"] == []
            assert sim.process_ids() == set()
            await slack.wait_for(lambda s: s.connections == [], timeout=30)
