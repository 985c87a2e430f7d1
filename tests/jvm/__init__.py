"""Tests of the JDK tool output parsers in bot/jvm/, run against real JVMs."""
