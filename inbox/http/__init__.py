"""The HTTP side of the host: the public ``/v1`` API and the runners' session-scoped endpoints."""
