"""Lean Socket.IO load generator: protocol, worker processes, coordinator."""
