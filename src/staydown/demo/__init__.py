"""The demo: a manga-like site on its own origin, seeded customers, zones and keys."""
