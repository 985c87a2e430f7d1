"""The kubelet: runs every pod's containers as real processes and keeps their status current.

Each container gets its own task: image (pulling.py) -> volumes, env, ServiceAccount token and
runAsNonRoot check -> create and start -> probes -> run -> restart per restartPolicy, each
step recorded as the kubelet's Events (events.py). Pod phase, conditions and container
statuses are derived from those records and written back to the store, so watches and
`kubectl get pods` see them change.
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
from kubesim.kubelet.events import NORMAL, WARNING, Recorder
from kubesim.kubelet.images import Catalog, Image
from kubesim.kubelet.launch import PAUSE, Placement, launch_spec, pause_spec
from kubesim.kubelet.mounts import Mount, scratch_folders
from kubesim.kubelet.podstatus import ContainerRecord, pod_status
from kubesim.kubelet.probes import ProbeHooks, run_probes
from kubesim.kubelet.pulling import ImagePuller, Waiter
from kubesim.kubelet.pulls import ImageStore, NodeImage, PullModel
from kubesim.kubelet.rootfs import Layer
from kubesim.kubelet.runtime import ISOLATED
from kubesim.kubelet.serviceaccount import ApiEndpoint, token_mounts
from kubesim.kubelet.volumes import MountError, PodVolumes, container_mounts
from kubesim.status import StorageError
from kubesim.store import Obj, Store, now_iso

log = structlog.get_logger("kubesim.kubelet")
BACKOFF = (1.0, 2.0, 4.0, 8.0)
# How often a container waiting for a missing ConfigMap, Secret or key looks again.
CONFIG_RETRY = 2.0
# The kubelet's sync period: how soon a changed ConfigMap or Secret reaches its volumes.
VOLUME_SYNC = 60.0
# The status manager's sync period (pkg/kubelet/status/status_manager.go, syncPeriod): how often
# it compares the API's pod status with its own and writes its own back when they differ.
STATUS_SYNC = 10.0


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
    volumes: PodVolumes | None = None


def pod_description(pod: Obj) -> str:
    """format.Pod (pkg/kubelet/util/format/pod.go): `name_namespace(uid)`."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def verify_run_as_non_root(pod: Obj, container: Obj, image: Image) -> str | None:
    """pkg/kubelet/kuberuntime/security_context_others.go, verifyRunAsNonRoot: the kubelet's
    refusal to start a container that would run as root under runAsNonRoot."""
    csc = container.get("securityContext") or {}
    psc = pod["spec"].get("securityContext") or {}
    non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    if not non_root:
        return None
    where = f'(pod: "{pod_description(pod)}", container: {container["name"]})'
    user = csc.get("runAsUser", psc.get("runAsUser"))
    if user is not None:
        return None if int(user) != 0 else f"container's runAsUser breaks non-root policy {where}"
    if image.user == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    return None


class Kubelet:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        state_dir: Path,
        grace_cap: float,
        tokens: Tokens | None = None,
        pulls: PullModel | None = None,
        volume_sync: float = VOLUME_SYNC,
        probe_scale: float = 1.0,
        status_sync: float = STATUS_SYNC,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.state_dir = state_dir
        self.grace_cap = grace_cap
        self.tokens = tokens or Tokens()
        self.volume_sync = volume_sync
        self.status_sync = status_sync
        self.probe_scale = probe_scale
        # Set once the apiserver listens; until then containers get no in-cluster config.
        self.endpoint: ApiEndpoint | None = None
        self.pods: dict[str, PodRun] = {}
        # A planned pull failure's message for an image reference (kubesim/faults.py).
        self.pull_error: Callable[[str], str | None] = lambda ref: None
        self.recorder = Recorder(store)
        self.images = ImageStore(
            catalog,
            state_dir / "images",
            pulls or PullModel.from_env(),
            planned=lambda ref: self.pull_error(ref),
        )
        self.puller = ImagePuller(store, self.images, self.recorder)
        # The empty host folder every container's root is mounted on, each in its own mount
        # namespace; what containers write goes to their own folder below `scratch`.
        self.root_point = state_dir / "mnt" / "root"
        self.root_point.mkdir(parents=True, exist_ok=True)
        self.scratch = state_dir / "containers"

    def run_of(self, pod: Obj) -> PodRun | None:
        return self.pods.get(pod["metadata"]["uid"])

    # -- status ---------------------------------------------------------------
    def publish(self, run: PodRun) -> None:
        stored = self.store.get("pods", run.namespace, run.name)
        if stored is None or stored["metadata"]["uid"] != run.uid:
            return
        pod = dict(stored)  # the stored pod stays as it is if the write is refused
        pod["status"] = self._status(run, pod)
        try:
            self.store.update("pods", run.namespace, pod)
        except StorageError as exc:
            # A pod over etcd's limit takes no status either. The kubelet's status manager
            # logs it and keeps its own view, retrying at the next change and at its next
            # sync (pkg/kubelet/status/status_manager.go, syncPod and syncBatch): the API goes
            # on showing the last status it stored.
            log.warning(
                "Failed to update status for pod", pod=f"{run.namespace}/{run.name}", err=str(exc)
            )

    def _status(self, run: PodRun, pod: Obj) -> Obj:
        return pod_status(pod, run.records, run.started_at, run.deadline_exceeded)

    def _reconcile_status(self, run: PodRun, pod: Obj) -> None:
        """The status manager's needsReconcile: the kubelet is the source of truth for a pod's
        status, so a stored status that differs from its own (a refused write, or a client's
        write to pods/status) is written again. kubesim's kubelet owns the whole status; a
        real one keeps the conditions other components own."""
        if pod.get("status") != self._status(run, pod):
            self.publish(run)

    def _pod(self, run: PodRun) -> Obj | None:
        pod = self.store.get("pods", run.namespace, run.name)
        return pod if pod is not None and pod["metadata"]["uid"] == run.uid else None

    def event(
        self, run: PodRun, record: ContainerRecord, type_: str, reason: str, text: str
    ) -> None:
        if (pod := self._pod(run)) is not None:
            self.recorder.record(pod, record.kind, record.name, type_, reason, text)

    # -- pods -----------------------------------------------------------------
    async def start_pod(self, pod: Obj) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        run = PodRun(
            meta["namespace"],
            meta["name"],
            meta["uid"],
            self.state_dir / "logs" / f"{meta['namespace']}_{meta['name']}_{meta['uid']}",
        )
        run.volumes = PodVolumes(self.store, self._pod_dir(run))
        self.pods[run.uid] = run
        run.started_at = now_iso()
        for c in spec.get("containers", []):
            run.records[c["name"]] = ContainerRecord(c["name"], "container", c)
        self.publish(run)
        limits = [cgroups.memory_limit(c) for c in spec.get("containers", [])]
        if ISOLATED and limits and all(limits):
            cgroups.pod_memory(run.uid, sum(limit or 0 for limit in limits))
        if spec.get("shareProcessNamespace") and not spec.get("hostPID"):
            try:
                pause = await self.images.unpacked(PAUSE)
                scratch = self._scratch(pause.layer, f"sandbox-{run.uid}")
                run.sandbox = await ContainerProcess.start(
                    pause_spec(pod, pause.layer, (str(self.root_point), str(scratch))),
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
        if any("configMap" in v or "secret" in v for v in spec.get("volumes") or []):
            run.tasks.append(asyncio.create_task(self._every(run, self.volume_sync, self._volumes)))
        run.tasks.append(
            asyncio.create_task(self._every(run, self.status_sync, self._reconcile_status))
        )

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

    def _waiter(self, run: PodRun) -> Waiter:
        return Waiter(lambda: self._pod(run), lambda: self.publish(run), run.halted)

    async def _container_runs(self, run: PodRun, record: ContainerRecord) -> None:
        policy = (
            "Never"
            if record.kind == "ephemeral"
            else (self._pod(run) or {"spec": {}})["spec"].get("restartPolicy", "Always")
        )
        for attempt in itertools.count():
            # EnsureImageExists runs before every start, so `Always` pulls on each restart.
            pulled = await self.puller.ensure(record, self._waiter(run))
            if pulled is None:
                return
            record.image = pulled.image
            prepared = await self._prepare(run, record, pulled)
            if prepared is None:
                return
            pod, env, mounts = prepared
            reason = record.state_reason()
            first = attempt == 0 or reason in ("CreateContainerConfigError", "ImagePullBackOff")
            record.waiting("ContainerCreating" if first else reason, "")
            self.publish(run)
            code = await self._run_once(run, record, pulled, pod, env, mounts, attempt)
            again = policy == "Always" or (policy == "OnFailure" and code != 0)
            if not again or run.stopping or run.deadline_exceeded:
                return
            record.restart_count += 1
            record.last_state = record.state
            record.waiting(
                "CrashLoopBackOff", f"back-off restarting failed container {record.name}"
            )
            self.event(
                run,
                record,
                WARNING,
                "BackOff",
                f"Back-off restarting failed container {record.name} in pod {pod_description(pod)}",
            )
            self.publish(run)
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])

    async def _run_once(
        self,
        run: PodRun,
        record: ContainerRecord,
        pulled: NodeImage,
        pod: Obj,
        env: dict[str, str],
        mounts: tuple[Mount, ...],
        attempt: int,
    ) -> int:
        """Create, start and wait for one instance of the container; its exit code."""
        container_id = secrets.token_hex(32)
        groups = cgroups.create(run.uid, container_id, cgroups.memory_limit(record.spec))
        before_oom = groups.oom_kills()
        scratch = self._scratch(pulled.layer, container_id)
        try:
            mode, join_pid = self._pid_mode(run, record, pod)
            points = (str(self.root_point), str(scratch))
            placement = Placement(mode, join_pid, pulled.layer, points, mounts, groups.procs_files)
            spec = launch_spec(pulled.image, pod, record.spec, placement, env)
            log_path = run.log_dir / record.name / f"{attempt}.log"
            self.event(run, record, NORMAL, "Created", f"Created container {record.name}")
            started = now_iso()
            proc = await ContainerProcess.start(
                spec, log_path, stdin=bool(record.spec.get("stdin")), spawned=run.spawned
            )
        except StartError as exc:
            cgroups.release(groups)
            shutil.rmtree(scratch, ignore_errors=True)
            record.terminated(exc.exit_code, "StartError", str(exc), now_iso(), now_iso(), "")
            self.event(run, record, WARNING, "Failed", f"Error: {exc}")
            self.publish(run)
            return exc.exit_code
        if not ISOLATED:
            cgroups.place(groups, proc.pid)
        record.cgroups = groups
        record.liveness_failed = False
        record.probed_ready = None
        probes: asyncio.Task[None] | None = None
        try:
            record.running(proc, spec, started, f"kubesim://{container_id}", log_path)
            self.event(run, record, NORMAL, "Started", f"Started container {record.name}")
            self.publish(run)
            if record.kind == "container":
                probes = asyncio.create_task(
                    run_probes(record, self._hooks(run, record), self.probe_scale)
                )
            if run.stopping or run.deadline_exceeded:  # stopped while starting
                await proc.stop(0)
            code = await proc.wait()
        finally:
            if probes is not None:
                probes.cancel()
            record.peaks.append(groups.peak() or 0)
            oom = groups.oom_kills() > before_oom
            record.oom_kills += int(oom)
            cgroups.release(groups)
            shutil.rmtree(scratch, ignore_errors=True)
        reason = "Completed" if code == 0 else "Error"
        if oom:
            # containerd reports OOMKilled when the cgroup's OOM killer fired during the run.
            reason = "OOMKilled"
        record.terminated(code, reason, "", started, now_iso(), record.container_id)
        self.publish(run)
        return code

    def _hooks(self, run: PodRun, record: ContainerRecord) -> ProbeHooks:
        def event(reason: str, text: str) -> None:
            self.event(run, record, WARNING if reason == "Unhealthy" else NORMAL, reason, text)

        def ready(value: bool) -> None:
            if record.probed_ready != value:
                record.probed_ready = value
                self.publish(run)

        async def kill(probe: str) -> None:
            record.liveness_failed = True
            self.event(
                run,
                record,
                NORMAL,
                "Killing",
                f"Container {record.name} failed {probe} probe, will be restarted",
            )
            if record.process is not None:
                await record.process.stop(self._grace(run))

        return ProbeHooks(event, ready, kill)

    def _grace(self, run: PodRun) -> float:
        pod = self._pod(run)
        grace = float((pod or {"spec": {}})["spec"].get("terminationGracePeriodSeconds", 30))
        return min(grace, self.grace_cap)

    async def _prepare(
        self, run: PodRun, record: ContainerRecord, pulled: NodeImage
    ) -> tuple[Obj, dict[str, str], tuple[Mount, ...]] | None:
        """The pod, the kubelet's env and the container's mounts; waits in ContainerCreating
        while a volume cannot be set up, and in CreateContainerConfigError while a referenced
        ConfigMap, Secret or key is missing or runAsNonRoot forbids the image's user. None
        once the pod is gone."""
        port = self.endpoint.port if self.endpoint else None
        while not (run.stopping or run.deadline_exceeded):
            pod = self._pod(run)
            if pod is None:
                return None
            try:
                assert run.volumes is not None
                volumes = run.volumes.set_up(pod)
                env = kubelet_env(self.store, pod, record.spec, port)
                refused = verify_run_as_non_root(pod, record.spec, pulled.image)
                if refused:
                    raise ConfigError(refused)
            except MountError as exc:
                self.event(run, record, WARNING, "FailedMount", str(exc))
                if record.state_reason() != "ContainerCreating":
                    record.waiting("ContainerCreating", "")
                    self.publish(run)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.halted.wait(), CONFIG_RETRY)
                continue
            except ConfigError as exc:
                if record.state.get("waiting", {}).get("message") != str(exc):
                    record.waiting("CreateContainerConfigError", str(exc))
                    self.event(run, record, WARNING, "Failed", f"Error: {exc}")
                    self.publish(run)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(run.halted.wait(), CONFIG_RETRY)
                continue
            # The ServiceAccount admission plugin adds the token to regular containers only.
            wanted = record.kind == "container" and self.endpoint is not None and ISOLATED
            folder = self._pod_dir(run) / "serviceaccount"
            token = token_mounts(self.store, self.tokens, self.endpoint, pod, folder, wanted)
            mounts = [Mount(src, dest, read_only=True) for src, dest in token]
            mounts += container_mounts(record.spec, volumes)
            return pod, env, tuple(mounts)
        return None

    async def _every(self, run: PodRun, period: float, step: Callable[[PodRun, Obj], None]) -> None:
        """Run `step` on the stored pod each `period` seconds until the pod stops."""
        while not run.halted.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.halted.wait(), period)
            pod = self._pod(run)
            if pod is None or run.halted.is_set():
                return
            step(run, pod)

    def _volumes(self, run: PodRun, pod: Obj) -> None:
        """Refresh ConfigMap and Secret volumes in place (each volume sync period)."""
        if run.volumes is not None:
            with contextlib.suppress(MountError):
                run.volumes.set_up(pod)

    def _scratch(self, layer: Layer, name: str) -> Path:
        """A container's own folder for what it writes (its overlays' upper layers)."""
        folder = self.scratch / name
        for sub in scratch_folders(layer):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return folder

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

    async def _deadline(self, run: PodRun, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if run.stopping:
            return
        run.deadline_exceeded = True
        run.halted.set()
        await self._stop_processes(run, grace=self.grace_cap)
        self.publish(run)

    async def _stop_processes(self, run: PodRun, grace: float) -> None:
        running = [r for r in run.records.values() if r.process is not None and r.is_running]
        for record in running:
            self.event(run, record, NORMAL, "Killing", f"Stopping container {record.name}")
        procs = [r.process for r in run.records.values() if r.process is not None]
        await asyncio.gather(*(p.stop(grace) for p in procs), return_exceptions=True)
        if run.sandbox is not None:
            await run.sandbox.stop(0)
            shutil.rmtree(self.scratch / f"sandbox-{run.uid}", ignore_errors=True)
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

    # -- accounting ---------------------------------------------------------------
    def memory(self, namespace: str, name: str) -> dict[str, dict[str, Any]]:
        """Each container's memory: peak of its current (or last) run, working set, limit."""
        run = next(
            (r for r in self.pods.values() if (r.namespace, r.name) == (namespace, name)), None
        )
        if run is None:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for record in run.records.values():
            live = record.cgroups if record.is_running else None
            peak = live.peak() if live else (record.peaks[-1] if record.peaks else None)
            found[record.name] = {
                "peakBytes": peak,
                "workingSetBytes": live.working_set() if live else None,
                "limitBytes": cgroups.memory_limit(record.spec),
                "oomKills": record.oom_kills,
                "running": record.is_running,
                "accounted": bool(record.cgroups and record.cgroups.memory),
            }
        return found
