"""Process plumbing any process may use: ops HTTP, logging, tracing setup, signals and lifecycle."""
