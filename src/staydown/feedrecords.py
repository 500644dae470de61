"""The enforcement feed's shapes, shared by the control plane, the relay and the edge.

Dependency-free on purpose: an edge imports this without the control plane's ORM, and the relay
and the HTTP feed agree with the edge on names through it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamNames:
    """Where the feed lives in NATS JetStream (settings ``nats_stream``, ``nats_subject``,
    ``nats_heartbeat_subject``): one stream, one subject for records, one for edges' heartbeats."""

    stream: str = "STAYDOWN_FEED"
    subject: str = "staydown.feed"
    heartbeats: str = "staydown.edges"
