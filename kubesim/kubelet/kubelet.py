"""The kubelet: runs every pod's containers as real processes and keeps their status current.

Each container gets its own task: pull (catalog lookup) -> env and ServiceAccount token ->
start -> run -> restart per restartPolicy. Pod phase, conditions and container statuses are
derived from those records and written back to the store, so watches and `kubectl get pods`
see them change.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from kubesim.apiserver.auth import Tokens
from kubesim.kubelet import cgroups
from kubesim.kubelet.containers import ContainerProcess, StartError
from kubesim.kubelet.environment import ConfigError, kubelet_env
from kubesim.kubelet.images import Catalog
from kubesim.kubelet.launch import launch_spec, pause_spec
from kubesim.kubelet.podstatus import ContainerRecord, pod_status
from kubesim.kubelet.runtime import ISOLATED
from kubesim.kubelet.serviceaccount import ApiEndpoint, token_mounts
from kubesim.status import StorageError
from kubesim.store import Obj, Store, now_iso

log = structlog.get_logger("kubesim.kubelet")
BACKOFF = (1.0, 2.0, 4.0, 8.0)
# How often a container waiting for a missing ConfigMap, Secret or key looks again.
CONFIG_RETRY = 2.0


@dataclass
class PodRun:
    namespace: str
    name: str
    uid: str
    log_dir: Path
    records: dict[str, ContainerRecord] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sandbox: ContainerProcess | None = None
    spawned: list[asyncio.subprocess.Process] = field(default_factory=list)
    started_at: str = ""
    deadline_exceeded: bool = False
    stopping: bool = False
    # Set when the pod stops, so containers waiting for their config stop waiting at once.
    halted: asyncio.Event = field(default_factory=asyncio.Event)


class Kubelet:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        state_dir: Path,
        grace_cap: float,
        tokens: Tokens | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.state_dir = state_dir
        self.grace_cap = grace_cap
        self.tokens = tokens or Tokens()
        # Set once the apiserver listens; until then containers get no in-cluster config.
        self.endpoint: ApiEndpoint | None = None
        self.pods: dict[str, PodRun] = {}
        # A planned pull failure's message for an image reference (kubesim/faults.py).
        self.pull_error: Callable[[str], str | None] = lambda ref: None

    def run_of(self, pod: Obj) -> PodRun | None:
        return self.pods.get(pod["metadata"]["uid"])

    # -- status ---------------------------------------------------------------
    def publish(self, run: PodRun) -> None:
        stored = self.store.get("pods", run.namespace, run.name)
        if stored is None or stored["metadata"]["uid"] != run.uid:
            return
        pod = dict(stored)  # the stored pod stays as it is if the write is refused
        pod["status"] = pod_status(pod, run.records, run.started_at, run.deadline_exceeded)
        try:
            self.store.update("pods", run.namespace, pod)
        except StorageError as exc:
            # A pod over etcd's limit takes no status either. The kubelet's status manager
            # logs it and keeps its own view, retrying at the next change (pkg/kubelet/status/
            # status_manager.go, syncPod): the API goes on showing the last status it stored.
            log.warning(
                "Failed to update status for pod", pod=f"{run.namespace}/{run.name}", err=str(exc)
            )

    # -- pods -----------------------------------------------------------------
    async def start_pod(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        run = PodRun(
            meta["namespace"],
            meta["name"],
            meta["uid"],
            self.state_dir / "logs" / f"{meta['namespace']}_{meta['name']}_{meta['uid']}",
        )
        self.pods[run.uid] = run
        run.started_at = now_iso()
        for c in spec.get("containers", []):
            run.records[c["name"]] = ContainerRecord(c["name"], "container", c)
        self.publish(run)
        if spec.get("shareProcessNamespace") and not spec.get("hostPID"):
            try:
                run.sandbox = await ContainerProcess.start(
                    pause_spec(pod, (str(self.state_dir),)),
                    run.log_dir / "sandbox.log",
                    stdin=False,
                    spawned=run.spawned,
                )
            except StartError as exc:
                for record in run.records.values():
                    record.waiting("CreateContainerError", f"pod sandbox: {exc}")
                self.publish(run)
                return
        for c in spec.get("containers", []):
            self._spawn(run, run.records[c["name"]])
        if (deadline := spec.get("activeDeadlineSeconds")) is not None:
            run.tasks.append(asyncio.create_task(self._deadline(run, float(deadline))))

    def add_ephemeral(self, pod: Obj) -> None:
        run = self.run_of(pod)
        if run is None or run.stopping or run.deadline_exceeded:
            return
        for c in pod["spec"].get("ephemeralContainers") or []:
            if c["name"] not in run.records:
                run.records[c["name"]] = ContainerRecord(c["name"], "ephemeral", c)
                self._spawn(run, run.records[c["name"]])

    def _spawn(self, run: PodRun, record: ContainerRecord) -> None:
        run.tasks.append(asyncio.create_task(self._container_loop(run, record)))

    async def _container_loop(self, run: PodRun, record: ContainerRecord) -> None:
        try:
            await self._container_runs(run, record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a kubelet bug must not take the server down
            log.exception("container loop failed", pod=run.name, container=record.name)
            record.waiting("RunContainerError", str(exc))
            self.publish(run)

    async def _container_runs(self, run: PodRun, record: ContainerRecord) -> None:
        ref = str(record.spec.get("image", ""))
        image = self.catalog.find(ref)
        planned = self.pull_error(ref)
        if image is None or planned is not None:
            msg = planned or (
                f'Failed to pull image "{ref}": rpc error: code = NotFound desc = failed to pull '
                f'and unpack image "{ref}": not found in the kubesim image catalog'
            )
            record.waiting("ErrImagePull", msg)
            self.publish(run)
            await asyncio.sleep(1.0)
            record.waiting("ImagePullBackOff", f'Back-off pulling image "{ref}"')
            self.publish(run)
            return
        record.image = ref
        policy = (
            "Never" if record.kind == "ephemeral" else self._pod(run).get("restartPolicy", "Always")
        )
        for attempt in itertools.count():
            prepared = await self._prepare(run, record)
            if prepared is None:
                return
            pod, env, mounts = prepared
            reason = record.state_reason()
            first = attempt == 0 or reason == "CreateContainerConfigError"
            record.waiting("ContainerCreating" if first else reason, "")
            self.publish(run)
            try:
                mode, join_pid = self._pid_mode(run, record, pod)
                hide = (str(self.state_dir),)
                spec = launch_spec(image, pod, record.spec, mode, join_pid, hide, env, mounts)
                log_path = run.log_dir / record.name / f"{attempt}.log"
                started = now_iso()
                proc = await ContainerProcess.start(
                    spec, log_path, stdin=bool(record.spec.get("stdin")), spawned=run.spawned
                )
            except StartError as exc:
                record.terminated(exc.exit_code, "StartError", str(exc), now_iso(), now_iso(), "")
                self.publish(run)
                code = exc.exit_code
            else:
                container_id = secrets.token_hex(32)
                cgroup = cgroups.place(str(pod["metadata"].get("uid", "")), container_id, proc.pid)
                try:
                    record.running(proc, spec, started, f"kubesim://{container_id}", log_path)
                    self.publish(run)
                    if run.stopping or run.deadline_exceeded:  # stopped while starting
                        await proc.stop(0)
                    code = await proc.wait()
                finally:
                    cgroups.release(cgroup)
                reason = "Completed" if code == 0 else "Error"
                if run.deadline_exceeded or run.stopping:
                    reason = "Error" if code else "Completed"
                record.terminated(code, reason, "", started, now_iso(), record.container_id)
                self.publish(run)
            again = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not again or run.stopping or run.deadline_exceeded:
                return
            record.restart_count += 1
            record.last_state = record.state
            record.waiting(
                "CrashLoopBackOff", f"back-off restarting failed container {record.name}"
            )
            self.publish(run)
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])

    async def _prepare(
        self, run: PodRun, record: ContainerRecord
    ) -> tuple[Obj, dict[str, str], tuple[tuple[str, str], ...]] | None:
        """The pod, the kubelet's env and the secret mounts; waits in CreateContainerConfigError
        while a referenced ConfigMap, Secret or key is missing. None once the pod is gone."""
        port = self.endpoint.port if self.endpoint else None
        while not (run.stopping or run.deadline_exceeded):
            pod = self.store.get("pods", run.namespace, run.name)
            if pod is None:
                return None
            try:
                env = kubelet_env(self.store, pod, record.spec, port)
            except ConfigError as exc:
                if record.state.get("waiting", {}).get("message") != str(exc):
                    record.waiting("CreateContainerConfigError", str(exc))
                    self.publish(run)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.halted.wait(), CONFIG_RETRY)
                continue
            # The ServiceAccount admission plugin adds the token to regular containers only.
            wanted = record.kind == "container" and self.endpoint is not None and ISOLATED
            folder = self._pod_dir(run) / "serviceaccount"
            mounts = token_mounts(self.store, self.tokens, self.endpoint, pod, folder, wanted)
            return pod, env, mounts
        return None

    def _pod_dir(self, run: PodRun) -> Path:
        return self.state_dir / "pods" / run.uid

    def _pid_mode(self, run: PodRun, record: ContainerRecord, pod: Obj) -> tuple[str, int]:
        spec = pod["spec"]
        if spec.get("hostPID"):
            return "host", 0
        target = record.spec.get("targetContainerName")
        if record.kind == "ephemeral" and target:
            other = run.records.get(str(target))
            if other is None or other.process is None or other.process.proc.returncode is not None:
                raise StartError(f"target container {target!r} is not running")
            return "join", other.process.pid
        if run.sandbox is not None:
            return "join", run.sandbox.pid
        return "own", 0

    def _pod(self, run: PodRun) -> dict[str, Any]:
        pod = self.store.get("pods", run.namespace, run.name)
        return dict(pod["spec"]) if pod else {}

    async def _deadline(self, run: PodRun, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if run.stopping:
            return
        run.deadline_exceeded = True
        run.halted.set()
        await self._stop_processes(run, grace=self.grace_cap)
        self.publish(run)

    async def _stop_processes(self, run: PodRun, grace: float) -> None:
        procs = [r.process for r in run.records.values() if r.process is not None]
        await asyncio.gather(*(p.stop(grace) for p in procs), return_exceptions=True)
        if run.sandbox is not None:
            await run.sandbox.stop(0)
        current = asyncio.current_task()
        for task in run.tasks:
            if task is not current and not task.done():
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, 5)

    async def stop_pod(self, uid: str, grace: float | None = None) -> None:
        run = self.pods.get(uid)
        if run is None:
            return
        run.stopping = True
        run.halted.set()
        await self._stop_processes(
            run, self.grace_cap if grace is None else min(grace, self.grace_cap)
        )
        for task in run.tasks:
            task.cancel()
        self.pods.pop(uid, None)
        shutil.rmtree(self._pod_dir(run), ignore_errors=True)

    async def shutdown(self) -> None:
        await asyncio.gather(*(self.stop_pod(uid, 0.5) for uid in list(self.pods)))
