"""Kubernetes clients for tests that set up or inspect a kubesim cluster."""

from __future__ import annotations

from kubernetes import client, config

from kubesim import KubeSim


def admin_core_api(sim: KubeSim) -> client.CoreV1Api:
    """CoreV1Api as kubesim's admin (every right): for set-up and for looking, never for
    what jdebug itself does (that goes through jdebug's own identity)."""
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
