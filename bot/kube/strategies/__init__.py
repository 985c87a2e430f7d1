"""The ways to get next to a JVM in a pod: exec, sidecar, ephemeral container, node pod."""
