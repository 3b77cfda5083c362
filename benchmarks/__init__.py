"""Benchmarks run by ``make bench``: each compares llmcache with redis-cli in the same run."""
