"""kubesim tests: the simulated cluster driven by the official client and kubectl."""
