"""The gRPC edge: proto <-> domain mapping, error statuses, interceptors and the server."""
