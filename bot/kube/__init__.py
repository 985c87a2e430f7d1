"""Kubernetes backend: the API facade (`api`), its error vocabulary (`errors`), target
resolution, cluster probing and the strategies that bring a JDK next to a JVM in a pod.
"""
