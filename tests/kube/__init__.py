"""Tests of the Kubernetes backend (`bot.kube`) against kubesim and small fake API servers."""
