"""Registered works: a rightsholder's reference images, fingerprinted into the hash bank network-wide."""
