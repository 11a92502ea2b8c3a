"""Real-time sync from monday webhooks: the endpoint's checks, webhook registration, and applying events."""
