"""NATS JetStream: connections, the stream, and the message format of our events."""
