"""Domain services: plain async code that owns transactions and announces events.

No aiohttp or Socket.IO objects in here; inputs are already validated by `schemas/`.
"""
