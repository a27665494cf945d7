"""REST transport: aiohttp views that validate with `schemas/` and call domain services."""
