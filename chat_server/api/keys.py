"""Typed keys for what the application object holds."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
import socketio
from aiohttp import web

from chat_server.config import Config
from chat_server.services.registry import Services

CONFIG = web.AppKey("config", Config)
SERVICES = web.AppKey("services", Services)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
STATE = web.AppKey("state", dict)
# The Socket.IO server, for health checks (is the cross-instance listener alive?).
SIO = web.AppKey("sio", socketio.AsyncServer)
