"""Sides of a side-by-side benchmark, each in a worker process of its own, timed in turns.

Each side is a class made inside its worker as ``side_class(*settings)``; it
has a ``name``, ``threads()`` (a line saying which threads it runs on) and
``run(steps)`` returning a :class:`Turn`.  The sides are warmed up, then take
turns, round after round, while the others wait: a loaded machine slows each
side alike.  Separate processes keep the libraries' thread pools apart.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from dataclasses import dataclass

WARMUP_STEPS = 200  # as the speed benchmark's: more than a minibatch, tracing and first calls left out


@dataclass
class Turn:
    """One timed run of one side: wall and CPU seconds, environment steps and gradient steps taken."""

    wall: float
    cpu: float
    steps: int
    gradient_steps: int

    def __add__(self, other: Turn) -> Turn:
        return Turn(
            self.wall + other.wall,
            self.cpu + other.cpu,
            self.steps + other.steps,
            self.gradient_steps + other.gradient_steps,
        )

    @property
    def rate(self) -> float:
        """Environment steps per second of wall time."""
        return self.steps / self.wall

    @property
    def cpu_per_step(self) -> float:
        """CPU seconds (all threads) per environment step."""
        return self.cpu / self.steps


def _serve(side_class, settings, connection) -> None:
    """A worker's life: make its side, say which threads it uses, then run each step count it receives."""
    try:
        side = side_class(*settings)
        connection.send(side.threads())
        while (steps := connection.recv()) is not None:
            connection.send(side.run(steps))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the main process reports it
        pass


class _Worker:
    """One side in its own process, run a step count at a time."""

    def __init__(self, context, side_class, settings):
        self.name = side_class.name
        self._connection, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(side_class, settings, theirs), daemon=True)
        self._process.start()
        theirs.close()

    def threads(self) -> str:
        return self._receive()

    def run(self, steps: int) -> Turn:
        self._connection.send(steps)
        return self._receive()

    def _receive(self):
        try:
            return self._connection.recv()
        except EOFError:
            raise RuntimeError(f"the {self.name} worker process ended (exit code {self._process.exitcode})") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.terminate()


def take_turns(side_classes, settings, steps: int, rounds: int, out=print) -> dict[str, Turn]:
    """Time the sides in turns for ``rounds`` rounds of ``steps`` steps; return each side's totals by name.

    Prints the threads, each turn, and after each round the first side's speed over each other side's.
    """
    context = multiprocessing.get_context("spawn")  # a fork of a process running TensorFlow can hang
    workers = []
    try:
        for side_class in side_classes:
            workers.append(_Worker(context, side_class, settings))
        out(f"threads: {'; '.join(worker.threads() for worker in workers)}")
        out(f"warm-up: {WARMUP_STEPS} steps of each, not timed")
        for worker in workers:
            worker.run(WARMUP_STEPS)
        totals = {worker.name: Turn(0.0, 0.0, 0, 0) for worker in workers}
        width = max(len(worker.name) for worker in workers)
        for round_number in range(1, rounds + 1):
            rates = []
            for worker in workers:
                turn = worker.run(steps)
                totals[worker.name] += turn
                rates.append(turn.rate)
                out(
                    f"round {round_number} {worker.name:>{width}}: {turn.rate:6.1f} steps/s "
                    f"({1000 * turn.wall / turn.steps:.2f} ms/step, CPU {1000 * turn.cpu_per_step:.2f} ms/step, "
                    f"{turn.gradient_steps} gradient steps)"
                )
            ratios = ", ".join(
                f"{rates[0] / rate:.2f} over {worker.name}" for worker, rate in zip(workers[1:], rates[1:], strict=True)
            )
            out(f"round {round_number} ratio: {ratios}")
    finally:
        for worker in workers:
            worker.close()
    return totals
