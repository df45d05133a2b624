"""Benchmark registry and adapters."""
