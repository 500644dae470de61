"""Loaded by the schemathesis command (``SCHEMATHESIS_HOOKS``) in tests/api/test_schema_fuzz.py.

``POST /v1/inbound`` takes one raw e-mail (``message/rfc822``): its generated bodies are sent as the
raw bytes they are, as for ``application/octet-stream``.
"""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("message/rfc822", "application/octet-stream")
