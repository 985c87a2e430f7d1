"""The node: the kubelet and the container runtime that run pods as real namespaced Linux
processes, their images, mounts, cgroups, logs, exec and the status they report."""
