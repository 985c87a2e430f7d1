"""Container records and the Pod `status` a kubelet would report for them.

`ContainerRecord` is the kubelet's memory of one container (state, last state, restarts, process);
`pod_status` folds those into phase, conditions, containerStatuses and ephemeralContainerStatuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesim.kubelet.images import normalise

if TYPE_CHECKING:
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
    image: str = ""
    logs: list[Path] = field(default_factory=list)

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

    def to_status(self) -> dict[str, Any]:
        image = self.image or str(self.spec.get("image", ""))
        status: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "lastState": self.last_state,
            "ready": self.is_running and self.kind == "container",
            "restartCount": self.restart_count,
            "image": image,
            "imageID": f"kubesim://{normalise(image)}" if self.image else "",
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


def pod_status(
    pod: dict[str, Any],
    records: dict[str, ContainerRecord],
    started_at: str,
    deadline_exceeded: bool,
) -> dict[str, Any]:
    regular = [r for r in records.values() if r.kind == "container"]
    ephemeral = sorted((r for r in records.values() if r.kind == "ephemeral"), key=lambda r: r.name)
    ready = bool(regular) and all(r.is_running for r in regular)
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
        "qosClass": "BestEffort",
        "containerStatuses": [r.to_status() for r in regular],
    }
    if ephemeral:
        status["ephemeralContainerStatuses"] = [r.to_status() for r in ephemeral]
    if deadline_exceeded:
        status.update(phase="Failed", reason="DeadlineExceeded", message=DEADLINE_MESSAGE)
    return status
