"""``bench learning``'s live progress: one tqdm bar per seed on stderr, episodes done and best evaluation so far.

Seeds train in worker processes; each reports through a queue of a
multiprocessing manager, which the task carries, fed by an episode hook
(:func:`episode_reporter`) that only reads what training already computed.
A thread of the parent moves the reports to the bars.  Ray tasks carry no
queue: their bars move as each seed finishes.  Progress goes to stderr only
where stderr is a terminal (tqdm's ``disable=None``), so logs and CI output
get none, and stdout keeps only the table and the ``learning:`` line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import sys
import threading

from tqdm import tqdm

from cartpole_dqn.training.evaluation import Evaluator

_DONE = None  # put on the queue when every seed has finished


def episode_reporter(queue, seed: int):
    """A maker, for ``train(evaluation_watchers=...)``, of the episode hook that puts (seed, episodes done, best
    evaluation mean so far) on ``queue``.

    The hook reads the ``evaluator`` it is given (None: no mean), draws no
    random number and leaves the agent alone, so training is the same with it or without.
    """

    def watching(evaluator: Evaluator | None):
        def report(agent, episode, score):
            queue.put((seed, len(agent.scores), _best_mean(evaluator.records if evaluator is not None else ())))

        return report

    return watching


def _best_mean(records):
    return max((record.mean for record in records), default=None)


class SeedProgress:
    """The bars of one study's seeds; ``tasks`` are the tasks to run, carrying a queue when reports come live.

    Pass the seeds' results through :meth:`follow`, which closes the bars.
    """

    def __init__(self, tasks, live: bool):
        self.enabled = sys.stderr.isatty()  # tqdm's disable=None: nothing where stderr is a log or a pipe
        self._bars = {
            task.seed: tqdm(
                total=task.hyperparameters.EPISODES,
                desc=f"seed {task.seed}",
                unit="episode",
                position=i,
                leave=True,
                disable=not self.enabled,
            )
            for i, task in enumerate(tasks)
        }
        self._manager = self._reader = None
        self.tasks = tasks
        if live and self.enabled:
            self._manager = multiprocessing.get_context("spawn").Manager()
            self._queue = self._manager.Queue()
            self.tasks = [dataclasses.replace(task, progress=self._queue) for task in tasks]
            self._reader = threading.Thread(target=self._read_reports, daemon=True)
            self._reader.start()

    def _read_reports(self):
        with contextlib.suppress(OSError, EOFError):  # the manager gone: Ctrl-C reached it too
            for report in iter(self._queue.get, _DONE):
                self._show(*report)

    def _show(self, seed, episodes, best):
        bar = self._bars[seed]
        if episodes < bar.n:
            return  # a report the reader took after the seed's result
        bar.n = episodes
        bar.set_postfix_str("best evaluation " + ("none yet" if best is None else f"{best:.1f}"))

    def follow(self, seeds):
        """Yield each of ``seeds`` (a seed's (result, evaluations, output)) once its bar shows its end, the bars
        cleared while the caller handles it (and prints its row); close the bars after the last."""
        try:
            for seed in seeds:
                result, evaluations, _ = seed
                self._show(result.seed, result.episodes, max((mean for _, mean, _ in evaluations), default=None))
                with tqdm.external_write_mode(file=sys.stdout) if self.enabled else contextlib.nullcontext():
                    yield seed
        finally:
            self.close()

    def close(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(OSError, EOFError):
                self._queue.put(_DONE)
            self._reader.join()
            self._reader = None
        if self._manager is not None:
            self._manager.shutdown()
            self._manager = None
        for bar in self._bars.values():
            bar.close()
