"""deploy/ tests: the images' Dockerfiles and the kustomize manifests, checked offline."""
