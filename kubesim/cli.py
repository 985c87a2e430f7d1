"""`python -m kubesim serve`: run the simulator until SIGTERM/SIGINT, then stop every process."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from kubesim.kubelet.images import DEFAULT_CATALOG, ImageCatalogError
from kubesim.kubelet.kubelet import VOLUME_SYNC
from kubesim.kubelet.pulls import PullModel
from kubesim.kubelet.runtime import build_init
from kubesim.manifests import ManifestError
from kubesim.sim import KubeSim
from kubesim.store import MAX_REQUEST_BYTES


def _gates(text: str) -> dict[str, bool]:
    gates = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        gates[key.strip()] = value.strip().lower() in ("true", "1", "")
    return gates


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kubesim")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a single-node cluster until SIGTERM")
    serve.add_argument("--manifests", nargs="*", type=Path, default=[])
    serve.add_argument("--images", type=Path, default=DEFAULT_CATALOG)
    serve.add_argument("--version", default="1.31")
    serve.add_argument("--feature-gates", default="", help="e.g. EphemeralContainers=false")
    serve.add_argument(
        "--max-request-bytes",
        type=int,
        default=MAX_REQUEST_BYTES,
        help="etcd's limit on one object's stored size (default %(default)s, etcd's own)",
    )
    serve.add_argument("--kubeconfig-out", type=Path, required=True, help="admin kubeconfig path")
    serve.add_argument(
        "--service-account-kubeconfigs",
        type=Path,
        help="folder for one kubeconfig per ServiceAccount (NS_NAME.yaml)",
    )
    serve.add_argument(
        "--pulls",
        choices=("modelled", "instant"),
        help="image pulls as modelled (25 MB/s after 0.5 s, or KUBESIM_PULL_BANDWIDTH and "
        "KUBESIM_PULL_LATENCY) or instant; default: KUBESIM_PULLS, else modelled",
    )
    serve.add_argument(
        "--volume-sync",
        type=float,
        default=VOLUME_SYNC,
        help="seconds before a changed ConfigMap or Secret reaches its volumes (default 60)",
    )
    serve.add_argument(
        "--in-cluster",
        metavar="NS/NAME:FOLDER",
        help="write token, ca.crt and namespace for this ServiceAccount to FOLDER",
    )
    sub.add_parser("build-init", help="compile kubesim-init, the containers' init")
    return parser


def _pulls(choice: str | None) -> PullModel | None:
    if choice == "instant":
        return PullModel.instant()
    if choice == "modelled":
        return PullModel.from_env() if os.environ.get("KUBESIM_PULLS") != "instant" else PullModel()
    return None


def serve(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        sim = KubeSim(
            manifests=args.manifests,
            images=args.images,
            version=args.version,
            feature_gates=_gates(args.feature_gates),
            pulls=_pulls(args.pulls),
            volume_sync=args.volume_sync,
            max_request_bytes=args.max_request_bytes,
        ).start()
    except (ManifestError, ImageCatalogError, ValueError) as exc:
        print(f"kubesim: {exc}", file=sys.stderr)
        return 2
    try:
        sim.kubeconfig("admin", args.kubeconfig_out)
        assert sim.cluster is not None
        if args.service_account_kubeconfigs:
            for sa in list(sim.cluster.store.items("serviceaccounts")):
                ns, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
                sim.kubeconfig(
                    f"{ns}/{name}", args.service_account_kubeconfigs / f"{ns}_{name}.yaml"
                )
        if args.in_cluster:
            who, _, folder = args.in_cluster.partition(":")
            ns, _, name = who.partition("/")
            sim.in_cluster_files(Path(folder), ns, name)
        print(f"kubesim serving {sim.url}; kubeconfig {args.kubeconfig_out}", flush=True)
        stop.wait()
    finally:
        sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build-init":
        print(build_init())
        return 0
    return serve(args)
