#!/usr/bin/env bash
# Set up (scripts/setup.sh) and start the chat server on http://localhost:8080.
# With no DATABASE_URL it runs an embedded PostgreSQL under ./data (DATA_DIR); every
# setting of the README's configuration table applies (relative paths start at the repo
# root, since this script runs from there). Extra arguments go to `chat-server`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
exec .venv/bin/chat-server "$@"
