"""Orders: orders and the saga that approves them against billing's credit."""
