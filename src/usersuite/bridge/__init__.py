"""The outbox relay to NATS JetStream, and the idempotent consumer helper for subscribers."""
