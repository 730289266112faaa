"""``cartpole-dqn test``: play a saved model greedily; record the episodes and plot their scores.

:func:`model_to_play` picks the file (``--model``, the best model beside it
with ``--best``, or the one shipped with the package with ``--pretrained``);
:func:`play` checks the GIF's and the plot's names, plays the episodes (Ctrl-C
stops them), closes the window, prints the summary and its table, and writes
the GIF and the plot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from cartpole_dqn.environment import make_env
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import PRESETS, Hyperparameters
from cartpole_dqn.output_files import check_file, check_plot_path
from cartpole_dqn.pretrained import PRETRAINED_MODEL
from cartpole_dqn.process import new_agent
from cartpole_dqn.training import checkpoint
from cartpole_dqn.training.run_files import RunFiles
from cartpole_dqn.training.summary import summarize_test
from cartpole_dqn.training.watch_line import test_best_command

TEST_EPISODES = 20  # greedy episodes of the test command; the tutorial shows 20


@dataclass(frozen=True)
class PlayResult:
    scores: list[int]
    interrupted: bool  # stopped by Ctrl-C


def model_to_play(model, *, best: bool = False, pretrained: bool = False):
    """``model``, or the best evaluated model beside it (``best``), or the shipped one (``pretrained``)."""
    if pretrained:
        return str(PRETRAINED_MODEL)
    if checkpoint.is_checkpoint(model):
        raise UserError(f"{model} is a training checkpoint, for train --resume; test plays a model file (.h5, .keras)")
    best_model = RunFiles.for_model(model).best_model
    if not best:
        if not os.path.exists(model) and best_model.is_file():
            # train --stop-when-solved often writes only the best model (no training episode reached 500).
            raise UserError(
                f"no model file at {model}, but the best evaluated model is at {best_model}; "
                f"play it with: {test_best_command(model)}"
            )
        return model
    if not best_model.is_file():
        raise UserError(
            f"no best model at {best_model}; train with evaluation on (the default) and "
            f"--model {model} until an evaluation has run"
        )
    return best_model


def play(
    model_path,
    hyperparameters: Hyperparameters,
    seed: int | None = None,
    render: str = "human",
    *,
    gif=None,
    plot=None,
    agent_factory: Callable = new_agent,
) -> PlayResult:
    """Play ``hyperparameters.EPISODES`` greedy episodes of the model at ``model_path``, as ``test`` does.

    ``gif``: record them to this animated GIF; ``plot``: draw their scores
    to this file (its suffix names the format).  Both names are checked
    before anything is played.  ``agent_factory``: as ``cartpole_dqn.training.train``'s.
    """
    if gif:
        check_file(gif, "--gif")
    if plot:
        check_plot_path(plot, "--plot")
    if _sees_frames(model_path):  # the author's lesson 6: the model is played on the frames it learnt from
        hyperparameters = PRESETS["per-d3qn-pixels"].replace(EPISODES=hyperparameters.EPISODES)
    recorder = None
    if gif:
        from cartpole_dqn.training.gif_recorder import recording_env

        # It also shows the frames in a window with --render human.
        env, recorder = recording_env(render, hyperparameters.observation)
    else:
        env = make_env(render, hyperparameters.observation)
    agent = agent_factory(hyperparameters, seed, env=env, model_path=model_path)
    interrupted = False
    try:
        agent.test()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        env.close()  # a window closes before the closing lines
    print(summarize_test(agent.scores), flush=True)
    if recorder is not None and recorder.frames:
        print(f"recording: {recorder.save(gif)}", flush=True)
    if plot and agent.scores:
        from cartpole_dqn.training.plots import plot_test_scores

        print(f"score plot: {plot_test_scores(agent.scores, plot)}", flush=True)
    return PlayResult(list(agent.scores), interrupted)


def _sees_frames(model_path) -> bool:
    """Whether the .h5 model at ``model_path`` takes stacks of frames (a 4-axis input); False for anything else.

    Read from the file's configuration, without loading its weights; loading the model says what is wrong with
    a file that cannot be read.
    """
    import h5py

    try:
        with h5py.File(model_path, "r") as saved:
            config = json.loads(saved.attrs["model_config"])
        return len(config["config"]["layers"][0]["config"]["batch_shape"]) == 4
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return False
