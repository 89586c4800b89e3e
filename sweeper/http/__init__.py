"""The host's HTTP side for its runners: their endpoints, the agent's tools, the model proxy."""
