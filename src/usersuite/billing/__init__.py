"""Billing: accounts, credit limits and the credit reservations of the order saga."""
