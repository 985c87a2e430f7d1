"""jdebug: JDK diagnostics for JVMs in Kubernetes pods, driven from Slack or a terminal."""
