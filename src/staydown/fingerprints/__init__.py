"""Image fingerprints for staydown: SHA-256 for exact copies, PDQ for near-duplicates, and the hash
index that matches them. Pure functions over bytes and arrays; no database, no network."""
