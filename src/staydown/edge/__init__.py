"""The edge: a caching reverse proxy that serves customer zones and applies the enforcement feed."""
