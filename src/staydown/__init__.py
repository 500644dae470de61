"""staydown: notice-and-staydown for CDNs and hosting providers."""

__version__ = "0.1.0"
