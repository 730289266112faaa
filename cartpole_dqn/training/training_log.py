"""Record every training episode to a CSV file, and plot the scores at the end.

``TrainingLog`` is an episode hook (``agent.episode_hooks``): after each
episode it writes the file with one more row, so the file is complete up to
the last finished episode even if training is killed.  ``write_plot`` draws the
scores once training ends or is interrupted.
"""

from __future__ import annotations

import time
from pathlib import Path

from cartpole_dqn.output_files import write_csv

CSV_COLUMNS = ("episode", "score", "epsilon", "steps", "wall_time")


class TrainingLog:
    """Episode hook writing ``episode, score, epsilon, steps, wall_time`` rows.

    ``steps`` is the total of environment steps since training started and
    ``wall_time`` the seconds since this log was created.  The whole file is
    rewritten (atomically) after each episode: a few kilobytes, and a reader
    never sees a half-written row.  Nothing is written before the first row.
    """

    def __init__(self, csv_path, plot_path):
        self.csv_path, self.plot_path = Path(csv_path), Path(plot_path)
        self._start = time.perf_counter()
        self.rows = []

    @property
    def scores(self):
        return [row[1] for row in self.rows]

    def __call__(self, agent, episode, score):
        steps = (self.rows[-1][3] if self.rows else 0) + score
        self.rows.append((episode, score, f"{agent.epsilon:.6g}", steps, f"{time.perf_counter() - self._start:.3f}"))
        write_csv(self.csv_path, CSV_COLUMNS, self.rows)
        return False  # never asks training to stop

    # -- checkpoints (cartpole_dqn.training.checkpoint) ---------------------------

    checkpoint_name = "training_log"

    def checkpoint_state(self) -> dict:
        rows = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in self.rows]
        return {"rows": rows, "seconds": time.perf_counter() - self._start}

    def restore_checkpoint_state(self, state: dict) -> None:
        """Go on from a checkpoint: its rows (the file loses any written after it), its clock."""
        self.rows = [tuple(row[column] for column in CSV_COLUMNS) for row in state["rows"]]
        self._start = time.perf_counter() - state["seconds"]
        if self.rows:
            write_csv(self.csv_path, CSV_COLUMNS, self.rows)

    def saved_model_after(self, episode: int) -> bool:
        return False  # it writes logs, never a model

    def write_plot(self, saved_episodes=(), evaluations=(), best=None) -> Path | None:
        """Draw the scores logged so far to ``plot_path``; None if none were.

        ``saved_episodes``, ``evaluations`` and ``best``: see ``plots.plot_training_scores``.
        """
        if not self.rows:
            return None
        from cartpole_dqn.training.plots import plot_training_scores

        plot_training_scores(self.scores, self.plot_path, saved_episodes, evaluations=evaluations, best=best)
        return self.plot_path
