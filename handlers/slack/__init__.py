"""The Slack frontend: Bolt listeners that turn payloads into Requests and results into blocks."""
