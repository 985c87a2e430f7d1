"""Tests of the Slack frontend against the fake Slack, with real JVMs."""
