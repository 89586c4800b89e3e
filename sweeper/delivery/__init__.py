"""The host's deliverer: outbox rows sent through their channels (docs/delivery.md)."""
