"""Benchmarks for google_connect. They print figures and never assert timings.

Run them with ``make bench`` (full size, writes ``benchmarks/results.md``) or
``make bench-smoke`` (tiny sizes, for CI: fails only on errors).
"""
