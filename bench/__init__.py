"""Benchmark suite: lean Socket.IO load generator, scenarios, baselines, results."""
