"""The mailbox between Ray workers and the driver (`cluster`): a plain Ray actor that holds
messages as opaque bytes, and each task's last stored trainer state to resume from.

It imports nothing of explorer's (and so not torch): `cluster` ships this module to the actor's
process by value, which then starts in a fraction of a second. It is a plain actor (not asyncio,
not threaded), so each worker's calls run in the order it made them and records arrive in step
order.

Example:
    >>> relay = Relay()
    >>> relay.put(b"checkpoint message", ("task", 10, b"state"))
    >>> relay.take(), relay.resume("task")   # not stored yet: nothing to resume from
    ([b'checkpoint message'], None)
    >>> relay.confirm("task", 10); relay.stored("task"), relay.resume("task")
    (10, (10, b'state'))
"""

from __future__ import annotations


class Relay:
    """Workers `put` pickled messages (with a checkpoint, its trainer state as ``resume``: task,
    step, bytes); the driver `take`s the messages and `confirm`s each checkpoint once it has stored
    the weights, which makes that state the task's `resume` point; a worker waits on `stored`."""

    def __init__(self) -> None:
        self.inbox: list[bytes] = []
        self.pending: dict[tuple[str, int], bytes] = {}
        self.saved: dict[str, tuple[int, bytes]] = {}

    def put(self, message: bytes, resume: tuple[str, int, bytes] | None = None) -> None:
        if resume is not None:
            task, step, state = resume
            self.pending[(task, step)] = state
        self.inbox.append(message)

    def take(self) -> list[bytes]:
        out, self.inbox = self.inbox, []
        return out

    def confirm(self, task: str, step: int) -> None:
        state = self.pending.pop((task, step), None)
        if state is not None:
            self.saved[task] = (step, state)
        elif task not in self.saved or self.saved[task][0] < step:  # the last checkpoint: nothing to resume
            self.saved[task] = (step, b"")

    def stored(self, task: str) -> int | None:
        return self.saved[task][0] if task in self.saved else None

    def resume(self, task: str) -> tuple[int, bytes] | None:
        got = self.saved.get(task)
        return got if got and got[1] else None
