"""Engine, sessions, base types and migrations shared by every domain."""
