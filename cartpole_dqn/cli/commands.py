"""Command line: ``python -m cartpole_dqn {train,test,random,bench}``.

Flags in, calls out: ``train`` runs :func:`cartpole_dqn.training.run.train`,
``test`` :func:`cartpole_dqn.training.playing.play`, ``bench`` :mod:`cartpole_dqn.bench.command`.
TensorFlow takes seconds to import, so nothing here imports it before a
command needs it: ``--help`` and bad arguments answer at once.
"""

from __future__ import annotations

import argparse
import sys

from cartpole_dqn.bench.command import add_benchmarks, old_form_error
from cartpole_dqn.cli.flags import (
    EXIT_USER_ERROR,
    HelpFormatter,
    OneLineErrorParser,
    add_checkpoints,
    add_common,
    add_evaluation_flags,
    add_model,
    add_test_outputs,
    add_training_logs,
)
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS, add_flags, hyperparameters_from
from cartpole_dqn.training.playing import TEST_EPISODES, model_to_play, play
from cartpole_dqn.training.run import TrainingSettings, train

DEFAULT_RANDOM_EPISODES = 10  # the tutorial's random play runs 10 games
EXIT_INTERRUPTED = 130  # the shell's code for a program stopped by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="cartpole-dqn",
        description="Deep Q-learning on CartPole-v1 with Keras: the classic tutorial's agent, fast.",
        epilog="examples:\n"
        "  cartpole-dqn train --stop-when-solved  train until a model plays 500 in all 140 evaluation episodes\n"
        "  cartpole-dqn test --best              watch the best evaluated model play 20 episodes\n"
        "  cartpole-dqn train                    the tutorial's 1000 episodes; cartpole-dqn.h5 at each 500\n"
        "  cartpole-dqn train --episodes 200 --seed 1\n"
        "  cartpole-dqn train --preset ddqn-steady --episodes 300 --stop-when-solved\n"
        "                                        Double DQN with the options that keep it learned\n"
        "  cartpole-dqn train --preset ddqn-quick --episodes 300 --stop-when-solved\n"
        "                                        replaying every 4th step: the quickest to solve\n"
        "  cartpole-dqn test                     watch cartpole-dqn.h5 play 20 episodes\n"
        "  cartpole-dqn test --render none       the same, headless\n"
        "  cartpole-dqn test --pretrained        watch the agent shipped with the package\n"
        "  cartpole-dqn test --pretrained --render none --gif play.gif --plot scores.png\n"
        "  cartpole-dqn random                   the tutorial's random play\n"
        "  cartpole-dqn bench speed              speed against the tutorial's own code\n"
        "  cartpole-dqn bench learning           how often train --stop-when-solved balances the pole, 10 seeds",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,test,random,bench}")

    train = commands.add_parser(
        "train",
        formatter_class=HelpFormatter,
        help="train the agent; keeps the best evaluated model and the tutorial's last 500",
        description="Train the DQN agent. Prints one line per episode and saves the model each "
        "time an episode reaches 500 (the tutorial's rule). After every episode the network "
        "also plays greedy evaluation episodes; the best one, confirmed on more episodes, is "
        "saved as <model>-best.h5. With --stop-when-solved, training stops once that model played 500 "
        "in all of them, a proof of 100 more included. Ctrl-C stops cleanly.",
    )
    add_common(train, "none", DEFAULTS.EPISODES, "episodes to train (the tutorial's EPISODES)")
    add_model(train, "where the model is saved")
    add_training_logs(train)
    add_checkpoints(train)
    add_flags(train)
    add_evaluation_flags(train)
    train.set_defaults(run=run_train)

    test = commands.add_parser(
        "test",
        formatter_class=HelpFormatter,
        help="play greedy episodes with a saved model",
        description="Load a saved model and play greedy episodes (no exploration, no learning).",
    )
    add_common(test, "human", TEST_EPISODES, "episodes to play")
    add_model(test, "the model to load")
    add_test_outputs(test)
    test.add_argument(
        "--best",
        action="store_true",
        help="load the best evaluated model saved beside --model (e.g. cartpole-dqn-best.h5)",
    )
    test.set_defaults(run=run_test)

    random_play = commands.add_parser(
        "random",
        formatter_class=HelpFormatter,
        help="the tutorial's first program: play with random actions",
        description="Play CartPole with random actions, printing every step.",
    )
    add_common(random_play, "none", DEFAULT_RANDOM_EPISODES, "games to play")
    random_play.set_defaults(run=run_random)

    bench = commands.add_parser(
        "bench",
        formatter_class=HelpFormatter,
        help="time training against the tutorial's code, or measure learning over seeds",
        description="Five benchmarks, one subcommand each: speed against the tutorial's code, learning over "
        "seeds, the profile of one training step, the training loop beside Stable-Baselines3's DQN, and lesson "
        "6's replay from pixels against the lesson's own calls. See BENCHMARKS.md.",
    )
    add_benchmarks(bench)
    return parser


def training_settings(args) -> TrainingSettings:
    """What the ``train`` flags ask for."""
    return TrainingSettings(
        hyperparameters_from(args),
        seed=args.seed,
        render=args.render,
        model=args.model,
        log_dir=args.log_dir,
        tensorboard=args.tensorboard,
        resume=args.resume or False,
        keep_checkpoint=not args.no_checkpoint,
        checkpoint_every=args.checkpoint_every,
        eval_episodes=args.eval_episodes,
        eval_every=args.eval_every,
        confirm_episodes=args.confirm_episodes,
        proof_episodes=args.proof_episodes,
        best_model=args.best_model,
        stop_when_solved=args.stop_when_solved,
    )


def run_train(args) -> int:
    return EXIT_INTERRUPTED if train(training_settings(args)).interrupted else 0


def run_test(args) -> int:
    hyperparameters = DEFAULTS.replace(EPISODES=args.episodes).validated()
    model = model_to_play(args.model, best=args.best, pretrained=args.pretrained)
    played = play(model, hyperparameters, args.seed, args.render, gif=args.gif, plot=args.plot)
    return EXIT_INTERRUPTED if played.interrupted else 0


def run_random(args) -> int:
    DEFAULTS.replace(EPISODES=args.episodes).validated()
    from cartpole_dqn.random_games import Random_games

    lengths = Random_games(args.episodes, render=args.render, seed=args.seed)
    print(f"random play: {len(lengths)} games, mean length {sum(lengths) / len(lengths):.1f}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    if old_form := old_form_error(argv):
        parser.error(old_form)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"cartpole-dqn: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
