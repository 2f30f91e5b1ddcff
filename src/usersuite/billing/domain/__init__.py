"""The billing domain: accounts and their credit reservations, free of any framework."""
