"""The command line's flags, declared once per group and shared by the commands that take them.

:mod:`cartpole_dqn.cli` builds the commands from these groups; the
hyperparameters' flags come from their declarations
(:func:`cartpole_dqn.hyperparameters.add_flags`).  Nothing here imports
TensorFlow: ``--help`` and bad arguments answer at once.
"""

from __future__ import annotations

import argparse
import re
import textwrap

from cartpole_dqn.environment import MAX_SCORE, RENDER_CHOICES
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH
from cartpole_dqn.number_types import COUNT, COUNT_OR_OFF, MAX_SEED, SEED, RealNumber
from cartpole_dqn.training import checkpoint
from cartpole_dqn.training.evaluation import (
    DEFAULT_CONFIRM_EPISODES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_EVAL_EVERY,
    DEFAULT_PROOF_EPISODES,
    EVERY_EPISODE_AT_500,
    SOLVED_THRESHOLD,
    STOP_THRESHOLD,
)

EXIT_USER_ERROR = 2


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (no usage block), as every other error is.

    It also reads ``-1e3``, ``-inf`` and ``-nan`` as values, not as unknown
    flags (argparse's own pattern knows only ``-1`` and ``-1.5``), so the
    number types can say what is wrong with them.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(
            r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE
        )

    def error(self, message):
        # "argument --episodes: must be ..." reads "--episodes must be ...", as Hyperparameters says it.
        message = re.sub(r"^argument (\S+): must ", r"\1 must ", message)
        self.exit(EXIT_USER_ERROR, f"cartpole-dqn: error: {message}\n")


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, without breaking lines inside hyphenated names such as ddqn-soft-bootstrap."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def add_common(parser, render_default, episodes_default, episodes_help) -> None:
    """--episodes, --seed and --render: every command's."""
    parser.add_argument(
        "--episodes",
        type=COUNT,
        default=episodes_default,
        metavar="N",
        help=f"{episodes_help} (default: {episodes_default})",
    )
    parser.add_argument(
        "--seed",
        type=SEED,
        default=None,
        help=f"seed for a repeatable run on this machine, 0 to {MAX_SEED} (default: none)",
    )
    parser.add_argument(
        "--render",
        choices=RENDER_CHOICES,
        default=render_default,
        help=f"'human' opens a window, 'none' runs headless (default: {render_default})",
    )


def add_model(parser, help_text) -> None:
    parser.add_argument(
        "--model", default=DEFAULT_MODEL_PATH, metavar="PATH", help=f"{help_text} (default: {DEFAULT_MODEL_PATH})"
    )


def add_training_logs(parser) -> None:
    parser.add_argument(
        "--log-dir",
        default=None,
        metavar="DIR",
        help="folder for the CSV logs <model>-training.csv and <model>-evals.csv and the score "
        "plot <model>-training.png (default: the model's folder)",
    )
    parser.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help="also write TensorBoard scalars (score, epsilon, memory) to DIR",
    )


def add_checkpoints(parser) -> None:
    group = parser.add_argument_group("checkpoints (everything training needs to go on after a crash)")
    group.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="go on from the checkpoint beside --model (e.g. cartpole-dqn.ckpt), or from PATH; "
        "every hyperparameter and --seed must be those it was written with",
    )
    group.add_argument(
        "--checkpoint-every",
        type=RealNumber(0.0),
        default=checkpoint.DEFAULT_INTERVAL,
        metavar="SECONDS",
        help="write the checkpoint after the first episode, then at the first episode end this "
        "many seconds after the last one (also after the last episode and whenever a model is "
        f"saved); 0: after every episode (default: {checkpoint.DEFAULT_INTERVAL:g})",
    )
    group.add_argument("--no-checkpoint", action="store_true", help="keep no checkpoint")


def add_evaluation_flags(parser) -> None:
    """The ``train`` flags that control evaluation, the best model and early stopping."""
    group = parser.add_argument_group("evaluation (greedy episodes that pick the best model)")
    group.add_argument(
        "--eval-episodes",
        type=COUNT_OR_OFF,
        default=DEFAULT_EVAL_EPISODES,
        metavar="N",
        help=f"greedy episodes of each evaluation's screen; 0 turns evaluation off (default: {DEFAULT_EVAL_EPISODES})",
    )
    group.add_argument(
        "--eval-every",
        type=COUNT,
        default=DEFAULT_EVAL_EVERY,
        metavar="K",
        help=f"evaluate after every K-th episode and after every {MAX_SCORE} "
        f"(default: {DEFAULT_EVAL_EVERY}, every episode)",
    )
    group.add_argument(
        "--confirm-episodes",
        type=COUNT,
        default=DEFAULT_CONFIRM_EPISODES,
        metavar="M",
        help="greedy episodes from other starting states that confirm a screen at least as good "
        f"as the best model before it replaces it (default: {DEFAULT_CONFIRM_EPISODES})",
    )
    group.add_argument(
        "--proof-episodes",
        type=COUNT_OR_OFF,
        default=DEFAULT_PROOF_EPISODES,
        metavar="P",
        help=f"greedy episodes from yet other starting states that a model whose screen and confirmation all "
        f"reached {MAX_SCORE} must also play to {MAX_SCORE} before it counts as solved; 0 turns the proof off "
        f"(default: {DEFAULT_PROOF_EPISODES})",
    )
    group.add_argument(
        "--best-model",
        default=None,
        metavar="PATH",
        help="where the best evaluated model is saved (default: the --model name "
        "with -best, e.g. cartpole-dqn-best.h5)",
    )
    group.add_argument(
        "--stop-when-solved",
        type=STOP_THRESHOLD,
        nargs="?",
        const=EVERY_EPISODE_AT_500,
        default=None,
        metavar="MEAN",
        help=f"without a value: stop training once the best model played {MAX_SCORE} in every "
        "one of its screen, confirmation and proof episodes (solved); with MEAN: once its screen and "
        f"confirmation means both reach MEAN ({SOLVED_THRESHOLD:g} is CartPole-v1's reward "
        f"threshold; such a model may still fall before {MAX_SCORE} in a test)",
    )


def add_test_outputs(parser) -> None:
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="play the pretrained model shipped with the package instead of --model",
    )
    parser.add_argument(
        "--gif",
        default=None,
        metavar="PATH",
        help="record the episodes as an animated GIF (headless; works with --render none)",
    )
    parser.add_argument(
        "--plot",
        default=None,
        metavar="PATH",
        help="plot the test scores to PATH, in the format its suffix names (.png, .svg, .pdf, ...)",
    )
