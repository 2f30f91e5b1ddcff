"""Use cases over the domain, speaking to persistence only through the abstract unit of work."""
