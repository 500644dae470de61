"""Certificates for the zones' hostnames: ordered by ACME, uploaded by customers, or issued by the
demo CA, and sent to the edges in the enforcement feed (private keys sealed)."""
