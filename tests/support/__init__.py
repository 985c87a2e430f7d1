"""Test support: starting real JVMs and processes, and cleaning them up by pid."""
