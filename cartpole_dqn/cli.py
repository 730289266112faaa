"""Command line: ``python -m cartpole_dqn {train,test,random}``.

TensorFlow takes seconds to import, so this module imports it only inside
the commands that need it: ``--help`` and bad arguments answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time

from cartpole_dqn.environment import RENDER_CHOICES
from cartpole_dqn.errors import UserError
from cartpole_dqn.evaluation import add_evaluation_arguments, best_model_path, evaluator_from
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH, DEFAULTS, Hyperparameters, flag_of
from cartpole_dqn.summary import test_summary, training_summary

DEFAULT_TEST_EPISODES = 20  # the tutorial shows 20 test episodes
DEFAULT_RANDOM_EPISODES = 10  # the tutorial's random play runs 10 games
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's code for a program stopped by Ctrl-C


def _add_common(parser, render_default, episodes_default, episodes_help):
    parser.add_argument("--episodes", type=int, default=episodes_default, metavar="N",
                        help=f"{episodes_help} (default: {episodes_default})")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for a repeatable run on this machine (default: none)")
    parser.add_argument("--render", choices=RENDER_CHOICES, default=render_default,
                        help=f"'human' opens a window, 'none' runs headless (default: {render_default})")


def _add_model(parser, help_text):
    parser.add_argument("--model", default=DEFAULT_MODEL_PATH, metavar="PATH",
                        help=f"{help_text} (default: {DEFAULT_MODEL_PATH})")


def _add_hyperparameters(parser):
    group = parser.add_argument_group("hyperparameters (defaults are the tutorial's)")
    for field in dataclasses.fields(Hyperparameters):
        if field.name == "EPISODES":
            continue  # --episodes, shared with the other commands
        group.add_argument(flag_of(field.name), dest=field.name, type=type(field.default),
                           default=field.default, metavar=field.name.upper(),
                           help=f"{field.metadata['help']} (default: {field.default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cartpole-dqn",
        description="Deep Q-learning on CartPole-v1 with Keras: the classic tutorial's agent, fast.",
        epilog="examples:\n"
               "  cartpole-dqn train                    train 1000 episodes, save cartpole-dqn.h5 at each 500\n"
               "  cartpole-dqn train --episodes 200 --seed 1\n"
               "  cartpole-dqn test                     watch the saved model play 20 episodes\n"
               "  cartpole-dqn test --best              the same with the best evaluated model\n"
               "  cartpole-dqn test --render none       the same, headless\n"
               "  cartpole-dqn random                   the tutorial's random play",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,test,random}")

    train = commands.add_parser(
        "train", help="train the agent; saves the model whenever an episode reaches 500",
        description="Train the DQN agent. Prints one line per episode and saves the model each "
                    "time an episode reaches 500 (the tutorial's rule). Ctrl-C stops cleanly.")
    _add_common(train, "none", DEFAULTS.EPISODES, "episodes to train (the tutorial's EPISODES)")
    _add_model(train, "where the model is saved")
    _add_hyperparameters(train)
    add_evaluation_arguments(train)
    train.set_defaults(run=run_train)

    test = commands.add_parser(
        "test", help="play greedy episodes with a saved model",
        description="Load a saved model and play greedy episodes (no exploration, no learning).")
    _add_common(test, "human", DEFAULT_TEST_EPISODES, "episodes to play")
    _add_model(test, "the model to load")
    test.add_argument("--best", action="store_true",
                      help="load the best evaluated model saved beside --model (e.g. cartpole-dqn-best.h5)")
    test.set_defaults(run=run_test)

    random_play = commands.add_parser(
        "random", help="the tutorial's first program: play with random actions",
        description="Play CartPole with random actions, printing every step.")
    _add_common(random_play, "none", DEFAULT_RANDOM_EPISODES, "games to play")
    random_play.set_defaults(run=run_random)
    return parser


def hyperparameters_from(args) -> Hyperparameters:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(Hyperparameters) if hasattr(args, f.name)}
    return Hyperparameters(**values, EPISODES=args.episodes).validated()


def _agent_class():
    _import_tensorflow_quietly()
    from cartpole_dqn.agent import DQNAgent

    return DQNAgent


def _import_tensorflow_quietly():
    """Import TensorFlow without its start-up chatter about CUDA and CPU features.

    Part of it is written by C++ before logging is configured, so no setting
    silences it: stderr is parked in a file during the import and shown only
    if the import fails.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as parked:
        os.dup2(parked.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved_fd, 2)
            parked.seek(0)
            sys.stderr.write(parked.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


def run_train(args) -> int:
    hyperparameters = hyperparameters_from(args)
    evaluator = evaluator_from(args)
    agent = _agent_class()(hyperparameters, render=args.render, seed=args.seed, model_path=args.model)
    if evaluator is not None:
        agent.episode_hooks.append(evaluator)
    start = time.perf_counter()
    interrupted = False
    try:
        agent.run()
    except KeyboardInterrupt:
        interrupted = True
    saved = args.model if agent.saved_episodes else None
    print(training_summary(agent.scores, time.perf_counter() - start, saved, interrupted), flush=True)
    if evaluator is not None:
        evaluator.close()
        print(evaluator.summary(args.model, agent.saved_episodes), flush=True)
    return EXIT_INTERRUPTED if interrupted else 0


def run_test(args) -> int:
    hyperparameters = DEFAULTS.replace(EPISODES=args.episodes).validated()
    model_path = args.model
    if args.best:
        model_path = best_model_path(args.model)
        if not model_path.is_file():
            raise UserError(f"no best model at {model_path}; train with evaluation on (the default) and "
                            f"--model {args.model} until an evaluation has run")
    agent = _agent_class()(hyperparameters, render=args.render, seed=args.seed, model_path=model_path)
    try:
        agent.test()
    except KeyboardInterrupt:
        print(test_summary(agent.scores), flush=True)
        return EXIT_INTERRUPTED
    print(test_summary(agent.scores), flush=True)
    return 0


def run_random(args) -> int:
    DEFAULTS.replace(EPISODES=args.episodes).validated()
    from cartpole_dqn.random_games import Random_games

    lengths = Random_games(args.episodes, render=args.render, seed=args.seed)
    print(f"random play: {len(lengths)} games, mean length {sum(lengths) / len(lengths):.1f}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"cartpole-dqn: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
