"""Append-only, hash-chained record of everything staydown decided and did."""
