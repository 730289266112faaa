"""Record every training episode to a CSV file, and plot the scores at the end.

``TrainingLog`` is an episode hook (``agent.episode_hooks``): after each
episode it appends one row and flushes, so the file is complete up to the
last finished episode even if training is killed.  ``write_plot`` draws the
scores once training ends or is interrupted.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

from cartpole_dqn.output_files import writable

CSV_COLUMNS = ("episode", "score", "epsilon", "steps", "wall_time")


def log_paths(model_path, log_dir=None) -> tuple[Path, Path]:
    """The CSV and PNG files for a model: ``<stem>-training.csv/.png`` in ``log_dir``.

    Without ``log_dir`` they go beside the model, so ``cartpole-dqn.h5`` gets
    ``cartpole-dqn-training.csv`` and ``cartpole-dqn-training.png``.
    """
    model_path = Path(model_path)
    folder = Path(log_dir) if log_dir is not None else model_path.parent
    base = folder / f"{model_path.stem}-training"
    return base.with_suffix(".csv"), base.with_suffix(".png")


class TrainingLog:
    """Episode hook writing ``episode, score, epsilon, steps, wall_time`` rows.

    ``steps`` is the total of environment steps since training started and
    ``wall_time`` the seconds since this log was created.
    """

    def __init__(self, csv_path, plot_path):
        self.csv_path, self.plot_path = Path(csv_path), Path(plot_path)
        with writable(self.csv_path) as path:
            self._file = open(path, "w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(CSV_COLUMNS)
        self._file.flush()
        self._start = time.perf_counter()
        self._steps = 0
        self.scores = []

    def __call__(self, agent, episode, score):
        self.scores.append(score)
        self._steps += score
        self._writer.writerow((episode, score, f"{agent.epsilon:.6g}", self._steps,
                               f"{time.perf_counter() - self._start:.3f}"))
        self._file.flush()
        return False  # never asks training to stop

    def close(self) -> None:
        self._file.close()

    def write_plot(self, saved_episodes=(), evaluations=(), best=None) -> Path:
        """Close the CSV and draw the scores logged so far to ``plot_path``.

        ``saved_episodes``, ``evaluations`` and ``best``: see ``plots.plot_training_scores``.
        """
        from cartpole_dqn.plots import plot_training_scores

        self.close()
        plot_training_scores(self.scores, self.plot_path, saved_episodes, evaluations=evaluations, best=best)
        return self.plot_path
