"""Typed keys for what the application object holds."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from chat_server.config import Config
from chat_server.services.registry import Services

CONFIG = web.AppKey("config", Config)
SERVICES = web.AppKey("services", Services)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Any)
STATE = web.AppKey("state", dict)
