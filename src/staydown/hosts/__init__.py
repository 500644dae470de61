"""The host behind a zone's origin: found by RDAP, told of notices, reminded when silent."""
