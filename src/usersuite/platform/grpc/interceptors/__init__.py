"""Server interceptors, one concern per module, composed in one documented order by server.py."""
