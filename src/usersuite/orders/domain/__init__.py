"""The orders domain: orders and the saga's states and transitions, free of any framework."""
