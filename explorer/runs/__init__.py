"""Runs that last: the SQLite run store (`store`), background jobs that stream into it (`jobs`), the
process's shared `workspace`, many runs at once (`sweep`) and stored runs as files (`export`).
A sweep's grid point trains as a `tasks.train_task`, which tells what it does as messages; the
driver's `recorder` writes them into the store, whether the task ran here or on a Ray cluster
(`cluster`, with its `relay` actor).

It reads the engine; it knows nothing of charts, experiments or front ends.
"""
