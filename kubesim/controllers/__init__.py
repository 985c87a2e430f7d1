"""Controllers that act on stored objects: Deployments and namespace lifecycle."""
