"""The last line of ``train``: which model to watch, and the command that plays it."""

from __future__ import annotations

from pathlib import Path

from cartpole_dqn.environment import MAX_SCORE
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH
from cartpole_dqn.training.run_files import RunFiles


def watch_line(model_path, model_written: bool, best_path=None, evaluation_on: bool = False) -> str:
    """The last line of ``train``: which file to watch, and the command that plays it.

    ``best_path`` is the best model if this run wrote one; else the tutorial's
    ``model_path``, if ``model_written``; else nothing, and why (with
    ``evaluation_on``, the run was stopped before its first evaluation ended).
    """
    if best_path is not None:
        return f"watch the best model ({best_path}): {play_best_command(model_path, best_path)}"
    if model_written:
        return f"watch the model ({model_path}): cartpole-dqn test" + _model_flag(model_path)
    if evaluation_on:
        return f"nothing to watch: no episode reached {MAX_SCORE} and no evaluation finished; train longer"
    return (
        f"nothing to watch: no episode reached {MAX_SCORE} and evaluation was off; "
        "train again with evaluation on (the default)"
    )


def play_best_command(model_path, best_path) -> str:
    """The command that plays the best model at ``best_path``, saved by a run of ``model_path``."""
    if Path(best_path) == RunFiles.for_model(model_path).best_model:
        return test_best_command(model_path)
    return f"cartpole-dqn test --model {best_path}"


def test_best_command(model_path) -> str:
    """The command that plays the best model saved beside ``model_path``."""
    return "cartpole-dqn test --best" + _model_flag(model_path)


def _model_flag(model_path) -> str:
    return "" if Path(model_path) == Path(DEFAULT_MODEL_PATH) else f" --model {model_path}"
