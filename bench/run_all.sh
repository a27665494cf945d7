#!/usr/bin/env bash
# The moderate-scale suite recorded in bench/results/ (about 45-60 minutes on 2 cores).
# Usage: bash bench/run_all.sh   (from the repository root, venv active)
set -u
cd "$(dirname "$0")/.."
run() { echo "== python -m bench $*"; python -m bench "$@" || echo "!! failed: $*"; }
run connect --n 1000,10000 --rate 1000 --hold 15
run connect --n 1000 --rate 1000 --hold 5 --deflate
run fanout --rooms 10 --members 100 --senders 10 --rates 50,100,200,400,800,1600 --duration 8 --profile-rate 100 --profile-seconds 20
run fanout --rooms 1 --members 1000 --senders 20 --rates 5,10,20,40,80 --duration 8
run lobby --n 10000 --senders 10 --rates 2 --duration 20 --connect-rate 500
run changes --members 100 --senders 10 --rates 50,100,200,400 --duration 10
run changes --lobby --members 10000 --senders 2 --rates 2 --duration 15 --connect-rate 500
run dm --pairs 500 --rates 100,250,500,1000,2000 --duration 8
run api --rates 100,250,500,1000 --duration 8 --login-rate 10
run artillery --target py --vus 50 --msgs 40 --think 0.5
run cluster --launch --rooms 10 --members 100 --rates 50,100,200,400 --duration 8
python -m bench report
