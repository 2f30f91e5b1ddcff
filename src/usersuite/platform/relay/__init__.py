"""The relay process: the loop that claims outbox rows, publishes them and marks them sent."""
