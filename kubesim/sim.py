"""`KubeSim`: the whole cluster in this process, its event loop in a background thread.

with KubeSim(manifests=[Path("pods.yaml")]) as sim:
    config = sim.kubeconfig()                    # admin
    sa = sim.kubeconfig("system:serviceaccount:default:jdebug")
    sim.faults.add(500, verb="get", resource="pods", times=2)   # see kubesim/faults.py
    sim.memory("default", "cowweb")["app"]["peakBytes"]           # see kubesim/kubelet/cgroups.py
    sim.reset_request_counts(); ...; sim.request_counts().total  # kubesim/apiserver/accounting.py

Pulls take the time kubesim/kubelet/pulls.py models (25 MB/s after 0.5 s by default);
`pulls=PullModel.instant()`, or KUBESIM_PULLS=instant in the environment, makes them free.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kubesim import node
from kubesim.apiserver.accounting import RequestCounts
from kubesim.apiserver.auth import ADMIN, User, service_account_user
from kubesim.apiserver.server import make_app
from kubesim.cluster import Cluster, Config
from kubesim.controllers import deployments, garbage, replicasets
from kubesim.faults import Faults
from kubesim.kubeconfig import write_in_cluster, write_kubeconfig
from kubesim.kubelet import cgroups
from kubesim.kubelet.images import DEFAULT_CATALOG, load_catalog
from kubesim.kubelet.kubelet import VOLUME_SYNC
from kubesim.kubelet.pulls import PullModel
from kubesim.kubelet.runtime import descendants
from kubesim.kubelet.serviceaccount import ApiEndpoint
from kubesim.manifests import apply_manifests, read_manifests
from kubesim.store import MAX_REQUEST_BYTES
from kubesim.tls import make_certs

T = TypeVar("T")


def parse_identity(identity: str) -> User:
    """`admin`, `system:serviceaccount:NS:NAME` or `NS/NAME` (a ServiceAccount)."""
    if identity == "admin":
        return ADMIN
    if identity.startswith("system:serviceaccount:"):
        _, _, ns, name = identity.split(":", 3)
        return service_account_user(ns, name)
    if "/" in identity:
        ns, name = identity.split("/", 1)
        return service_account_user(ns, name)
    raise ValueError(
        f"unknown identity {identity!r}: use admin, NS/NAME or system:serviceaccount:NS:NAME"
    )


async def _memory(cluster: Cluster, namespace: str, pod: str) -> dict[str, dict[str, Any]]:
    return cluster.kubelet.memory(namespace, pod)


async def _remove_image(cluster: Cluster, ref: str) -> bool:
    return cluster.kubelet.images.remove(ref)


class KubeSim:
    def __init__(
        self,
        manifests: list[Path] | tuple[Path, ...] = (),
        images: Path = DEFAULT_CATALOG,
        version: str = "1.31",
        feature_gates: dict[str, bool] | None = None,
        state_dir: Path | None = None,
        grace_cap: float = 2.0,
        pulls: PullModel | None = None,
        volume_sync: float = VOLUME_SYNC,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self._manifests = [Path(p) for p in manifests]
        self._config = Config(
            version,
            dict(feature_gates or {}),
            grace_cap,
            pulls=pulls,
            volume_sync=volume_sync,
            max_request_bytes=max_request_bytes,
        )
        self._catalog = load_catalog(images)
        self._own_state = state_dir is None
        self.state_dir = (
            Path(tempfile.mkdtemp(prefix="kubesim-")) if state_dir is None else state_dir
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kubesim", daemon=True)
        self._runner: web.AppRunner | None = None
        self.cluster: Cluster | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> KubeSim:
        docs = read_manifests(self._manifests)
        self.certs = make_certs(self.state_dir / "tls")
        self._thread.start()
        try:
            self.call(self._start(docs))
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self, docs: list[tuple[str, dict[str, Any]]]) -> None:
        self.cluster = Cluster(self._config, self._catalog, self.state_dir)
        for controller in (deployments.run, replicasets.run, garbage.run):
            self.cluster.spawn(controller(self.cluster))
        self.cluster.spawn(node.renew_lease(self.cluster))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certs.cert, self.certs.key)
        # The apiserver (Go net/http) accepts 1 MiB of request line and headers; exec puts the
        # whole command in the query string, so aiohttp's 8 KiB default would be too strict.
        self._runner = web.AppRunner(
            make_app(self.cluster),
            access_log=None,
            shutdown_timeout=1.0,
            max_line_size=1 << 20,
            max_field_size=1 << 20,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.cluster.kubelet.endpoint = ApiEndpoint(self.port, self.certs.ca_cert.read_bytes())
        await apply_manifests(self.cluster, docs)

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                self.call(self._stop(), timeout=60)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(10)
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        cgroups.sweep_empty()

    async def _stop(self) -> None:
        if self.cluster is not None:
            await self.cluster.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run `coro` on the simulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- access ---------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def token(self, identity: str = "admin") -> str:
        assert self.cluster is not None
        return self.cluster.tokens.issue(parse_identity(identity))

    def kubeconfig(self, identity: str = "admin", path: Path | None = None) -> Path:
        user = parse_identity(identity)
        namespace = (
            user.name.split(":")[2] if user.name.startswith("system:serviceaccount:") else "default"
        )
        safe = user.name.replace(":", "_")
        target = path or self.state_dir / "kubeconfigs" / f"{safe}.yaml"
        return write_kubeconfig(
            target,
            self.url,
            self.certs.ca_cert.read_bytes(),
            user.name,
            self.token(identity),
            namespace,
        )

    def in_cluster_files(self, folder: Path, namespace: str, service_account: str) -> Path:
        token = self.token(f"{namespace}/{service_account}")
        return write_in_cluster(folder, self.certs.ca_cert.read_bytes(), token, namespace)

    def request_counts(self) -> RequestCounts:
        """How many API requests kubesim has served since it started or was last reset, per
        User-Agent and kind (also at GET /kubesim/requests, for the admin)."""
        assert self.cluster is not None
        return self.cluster.requests.snapshot()

    def reset_request_counts(self) -> None:
        assert self.cluster is not None
        self.cluster.requests.reset()

    @property
    def faults(self) -> Faults:
        """The planned faults (kubesim/faults.py); `clear()` them between tests."""
        assert self.cluster is not None
        return self.cluster.faults

    def memory(self, namespace: str, pod: str) -> dict[str, dict[str, Any]]:
        """Each container's memory (peakBytes, workingSetBytes, limitBytes, oomKills...), as
        `GET /kubesim/v1/namespaces/NS/pods/NAME/memory` serves it."""
        assert self.cluster is not None
        return self.call(_memory(self.cluster, namespace, pod))

    def remove_image(self, ref: str) -> bool:
        """Remove `ref` from the node's images (`crictl rmi`): its next use pulls it again."""
        assert self.cluster is not None
        return self.call(_remove_image(self.cluster, ref))

    def process_ids(self) -> set[int]:
        """Every host pid the kubelet started and that is still alive (containers and sandboxes)."""
        assert self.cluster is not None
        pids: set[int] = set()
        for run in list(self.cluster.kubelet.pods.values()):
            for proc in run.spawned:
                if proc.returncode is None:
                    pids.update(descendants(proc.pid))
        return pids
