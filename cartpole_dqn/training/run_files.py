"""The names of every file a run writes, derived in this one place.

``train`` writes its files from ``--model`` and ``--log-dir``; the base of
each name is the model's name without its model suffix (``.h5``, ``.keras``
or ``.hdf5``: what Keras saves to), so dotted names stay distinct:

==================  ==========================  ====================
file                ``--model run.v1.h5``       where
==================  ==========================  ====================
model               ``run.v1.h5``               as given
best model          ``run.v1-best.h5``          beside the model (or ``--best-model``)
checkpoint          ``run.v1.ckpt``             beside the model
episode log         ``run.v1-training.csv``     ``--log-dir``, else beside the model
score plot          ``run.v1-training.png``     ``--log-dir``, else beside the model
evaluation log      ``run.v1-evals.csv``        ``--log-dir``, else beside the model
==================  ==========================  ====================

``bench learning`` writes, per preset, ``bench-learning/<preset>.csv``
(``--csv``), a plot in its folder (``--plot``), and per seed
``<preset>-seed<N>.log`` beside the CSV and ``<csv name>-evals/seed<N>.csv``.

No TensorFlow here: the command line names its files before it loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cartpole_dqn.output_files import MODEL_SUFFIXES

CHECKPOINT_SUFFIX = ".ckpt"
LEARNING_FOLDER = "bench-learning"  # bench learning's default folder


def split_model_name(name: str) -> tuple[str, str]:
    """``run.v1.h5`` -> (``run.v1``, ``.h5``): the base every other name starts with, and the model suffix.

    A name without a model suffix (``test --model`` reads any file) splits at its last dot.
    """
    suffix = next((s for s in MODEL_SUFFIXES if name.endswith(s)), Path(name).suffix)
    return name[: len(name) - len(suffix)], suffix


@dataclass(frozen=True)
class RunFiles:
    """The files of one training run."""

    model: Path
    best_model: Path
    checkpoint: Path
    training_log: Path
    training_plot: Path
    evaluations_log: Path

    @classmethod
    def for_model(cls, model, log_dir=None, best_model=None) -> RunFiles:
        """The files of a run saving its model to ``model``; logs in ``log_dir`` (default: beside the model)."""
        model = Path(model)
        base, suffix = split_model_name(model.name)
        logs = Path(log_dir) if log_dir is not None else model.parent
        return cls(
            model=model,
            best_model=Path(best_model) if best_model is not None else model.with_name(f"{base}-best{suffix}"),
            checkpoint=model.with_name(base + CHECKPOINT_SUFFIX),
            training_log=logs / f"{base}-training.csv",
            training_plot=logs / f"{base}-training.png",
            evaluations_log=logs / f"{base}-evals.csv",
        )


# -- bench learning ------------------------------------------------------


def learning_files(preset: str, csv=None, plot=None, keep_training: bool = False) -> tuple[Path, Path]:
    """The CSV of ``bench learning`` and its plot: ``csv`` and ``plot`` (``--csv``, ``--plot``) if given.

    By default ``bench-learning/<preset>.csv``, and beside it ``fraction-solved.png``
    (``evaluation-medians.png`` for the study, ``keep_training``).
    """
    csv = Path(csv) if csv is not None else Path(LEARNING_FOLDER) / f"{preset}.csv"
    default_plot = "evaluation-medians.png" if keep_training else "fraction-solved.png"
    return csv, Path(plot) if plot is not None else csv.parent / default_plot


def evaluations_folder(csv_path) -> Path:
    """``study/ddqn.csv`` -> ``study/ddqn-evals/``: one CSV per seed of its evaluation means."""
    csv_path = Path(csv_path)
    return csv_path.with_name(f"{csv_path.stem}-evals")


def seed_evaluations(csv_path, seed: int) -> Path:
    return evaluations_folder(csv_path) / f"seed{seed}.csv"


def seed_evaluation_files(csv_path) -> list[Path]:
    """The per-seed evaluation CSVs written beside ``csv_path``."""
    return sorted(evaluations_folder(csv_path).glob("seed*.csv"))


def seed_log(log_dir, preset: str, seed: int) -> Path:
    """The file holding everything one seed printed."""
    return Path(log_dir) / f"{preset}-seed{seed}.log"
