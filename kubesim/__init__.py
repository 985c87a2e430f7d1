"""kubesim: a single-node Kubernetes API in one process whose kubelet runs pods as real
namespaced Linux processes. A dev/test tool for jdebug, not shipped in the bot image."""

from kubesim.sim import KubeSim

__all__ = ["KubeSim"]
