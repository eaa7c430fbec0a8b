"""Surviving the router's own death: durable sessions, a crash-safe journal for the
store writer, and leadership between two routers on one PostgreSQL store."""
