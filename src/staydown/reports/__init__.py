"""Transparency report, DSA statement-of-reasons export and Lumen-format export of notices."""
