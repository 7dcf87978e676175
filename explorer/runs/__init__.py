"""Runs that last: the SQLite run store (`store`), background jobs that stream into it (`jobs`), the
process's shared `workspace`, many runs at once (`sweep`) and stored runs as files (`export`).

It reads the engine; it knows nothing of charts, experiments or front ends.
"""
