"""Assembly of the HTTP API: the app, its dependencies and error shapes."""
