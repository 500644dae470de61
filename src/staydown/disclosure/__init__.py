"""Disclosure orders, legal holds and disclosure packages: answering a lawful demand for identity."""
