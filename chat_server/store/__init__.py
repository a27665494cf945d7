"""Storage: the asyncpg pool, migrations and the named queries in `sql/`.

Store functions take a connection so that the calling service owns the transaction.
"""
