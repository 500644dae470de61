"""The enforcement log, its feed to the edges, the outbox of notifications and durable timers."""
