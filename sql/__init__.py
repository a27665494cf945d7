"""The SQL of the chat server: `migrations/` (schema, applied in order) and `queries/`
(aiosql named queries).

This folder is installed as the package `chat_server.sql` (setup.cfg `package_dir`), so a
wheel carries its SQL; chat_server/store/queries.py reads it with importlib.resources.
"""
