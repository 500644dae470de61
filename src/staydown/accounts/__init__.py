"""Customers, identity verification, zones, domain-control validation and API keys."""
