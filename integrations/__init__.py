"""Integrations: signed outbound webhooks and group-robot routing of domain events (outbox transports)."""
