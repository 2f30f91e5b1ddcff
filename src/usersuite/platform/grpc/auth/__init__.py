"""Credentials: JWT verification with JWKS, request signatures, and the scope each method needs."""
