"""A real-time chat server: Socket.IO on aiohttp, PostgreSQL, Redis, HAProxy."""

__version__ = "0.1.0"
