"""Container records and the Pod `status` a kubelet would report for them.

`ContainerRecord` is the kubelet's memory of one container (state, last state, restarts, process);
`pod_status` folds those into phase, conditions, containerStatuses and ephemeralContainerStatuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim.kubelet.cgroups import quantity
from kubesim.kubelet.images import Image, qualified

if TYPE_CHECKING:
    from kubesim.kubelet.cgroups import ContainerCgroups
    from kubesim.kubelet.containers import ContainerProcess
    from kubesim.kubelet.runtime import LaunchSpec

DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


@dataclass
class ContainerRecord:
    name: str
    kind: str  # "container" or "ephemeral"
    spec: dict[str, Any]
    state: dict[str, Any] = field(
        default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}}
    )
    last_state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    process: ContainerProcess | None = None
    launch: LaunchSpec | None = None
    container_id: str = ""
    image: Image | None = None
    logs: list[Path] = field(default_factory=list)
    cgroups: ContainerCgroups | None = None
    # Readiness as the probes last saw it (a container without a readiness probe is ready
    # while it runs); a failed liveness probe marks the kill the kubelet is about to make.
    probed_ready: bool | None = None
    liveness_failed: bool = False
    # The highest memory use of each run of this container (bytes), newest last.
    peaks: list[int] = field(default_factory=list)
    oom_kills: int = 0

    def waiting(self, reason: str, message: str) -> None:
        body = {"reason": reason}
        if message:
            body["message"] = message
        self.state = {"waiting": body}

    def running(
        self, proc: ContainerProcess, launch: LaunchSpec, started: str, cid: str, log: Path
    ) -> None:
        self.process, self.launch, self.container_id = proc, launch, cid
        self.logs.append(log)
        self.state = {"running": {"startedAt": started}}

    def terminated(
        self, code: int, reason: str, message: str, started: str, finished: str, cid: str
    ) -> None:
        body: dict[str, Any] = {
            "exitCode": code,
            "reason": reason,
            "startedAt": started,
            "finishedAt": finished,
        }
        if message:
            body["message"] = message
        if cid:
            body["containerID"] = cid
        self.state = {"terminated": body}

    def state_reason(self) -> str:
        return str(next(iter(self.state.values())).get("reason", ""))

    @property
    def is_running(self) -> bool:
        return "running" in self.state

    @property
    def ready(self) -> bool:
        if not self.is_running or self.kind != "container":
            return False
        return self.probed_ready if self.probed_ready is not None else True

    def to_status(self) -> dict[str, Any]:
        # containerd reports the fully qualified name and the repository digest.
        spec_image = str(self.spec.get("image", ""))
        status: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "lastState": self.last_state,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "image": qualified(spec_image) if self.image else spec_image,
            "imageID": self.image.image_id if self.image else "",
            "started": self.is_running,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


def _phase(pod: dict[str, Any], regular: list[ContainerRecord]) -> str:
    policy = pod["spec"].get("restartPolicy", "Always")
    ended = [r for r in regular if "terminated" in r.state]
    if regular and len(ended) == len(regular):
        codes = [int(r.state["terminated"]["exitCode"]) for r in ended]
        if policy == "Never" or (policy == "OnFailure" and not any(codes)):
            return "Succeeded" if not any(codes) else "Failed"
    if any(r.is_running or r.container_id for r in regular):
        return "Running"
    return "Pending"


def qos_class(pod: dict[str, Any]) -> str:
    """pkg/apis/core/helper/qos: Guaranteed when every container's cpu and memory requests
    equal its limits, BestEffort when none sets any, Burstable otherwise."""
    spec = pod["spec"]
    containers = [*spec.get("containers", []), *(spec.get("initContainers") or [])]
    requests, limits, guaranteed = False, False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests, limits = requests or bool(req), limits or bool(lim)
        for name in ("cpu", "memory"):
            want = req.get(name, lim.get(name))
            if name not in lim or quantity(want) != quantity(lim[name]):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_status(
    pod: dict[str, Any],
    records: dict[str, ContainerRecord],
    started_at: str,
    deadline_exceeded: bool,
) -> dict[str, Any]:
    regular = [r for r in records.values() if r.kind == "container"]
    ephemeral = sorted((r for r in records.values() if r.kind == "ephemeral"), key=lambda r: r.name)
    ready = bool(regular) and all(r.ready for r in regular)
    cond_time = pod["metadata"].get("creationTimestamp", started_at)
    conditions = [
        {"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": cond_time}
        for t, s in (
            ("PodReadyToStartContainers", "True"),
            ("Initialized", "True"),
            ("Ready", str(ready)),
            ("ContainersReady", str(ready)),
            ("PodScheduled", "True"),
        )
    ]
    status: dict[str, Any] = {
        "phase": _phase(pod, regular),
        "conditions": conditions,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": started_at,
        "qosClass": qos_class(pod),
        "containerStatuses": [r.to_status() for r in regular],
    }
    if ephemeral:
        status["ephemeralContainerStatuses"] = [r.to_status() for r in ephemeral]
    if deadline_exceeded:
        status.update(phase="Failed", reason="DeadlineExceeded", message=DEADLINE_MESSAGE)
    return status
