"""Command line: ``python -m cartpole_dqn {train,test,random,bench}``.

Flags in, calls out: ``train`` runs :func:`cartpole_dqn.training_run.train`,
``test`` :func:`cartpole_dqn.playing.play`, ``bench`` :mod:`cartpole_dqn.benchmark`.
TensorFlow takes seconds to import, so nothing here imports it before a
command needs it: ``--help`` and bad arguments answer at once.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap

from cartpole_dqn import checkpoint
from cartpole_dqn.environment import MAX_SCORE, RENDER_CHOICES
from cartpole_dqn.errors import UserError
from cartpole_dqn.evaluation import (
    DEFAULT_CONFIRM_EPISODES,
    DEFAULT_EVAL_EPISODES,
    DEFAULT_EVAL_EVERY,
    EVERY_EPISODE_AT_500,
    SOLVED_THRESHOLD,
    STOP_THRESHOLD,
    TEST_EPISODES,
)
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH, DEFAULTS, add_flags, hyperparameters_from
from cartpole_dqn.number_types import COUNT, MAX_SEED, SEED, RealNumber, WholeNumber
from cartpole_dqn.output_files import check_file, check_plot_path
from cartpole_dqn.parallel import available_cores
from cartpole_dqn.playing import model_to_play, play
from cartpole_dqn.process import import_tensorflow_quietly
from cartpole_dqn.ray_cluster import INSTALL_RAY, LOCAL_RUNTIME, check_ray
from cartpole_dqn.run_files import learning_files
from cartpole_dqn.training_run import TrainingSettings, train

DEFAULT_RANDOM_EPISODES = 10  # the tutorial's random play runs 10 games
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's code for a program stopped by Ctrl-C


class _OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (no usage block), as every other error is.

    It also reads ``-1e3``, ``-inf`` and ``-nan`` as values, not as unknown
    flags (argparse's own pattern knows only ``-1`` and ``-1.5``), so the
    number types can say what is wrong with them.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$",
                                                   re.IGNORECASE)

    def error(self, message):
        # "argument --episodes: must be ..." reads "--episodes must be ...", as Hyperparameters says it.
        message = re.sub(r"^argument (\S+): must ", r"\1 must ", message)
        self.exit(EXIT_USER_ERROR, f"cartpole-dqn: error: {message}\n")


def _add_common(parser, render_default, episodes_default, episodes_help):
    parser.add_argument("--episodes", type=COUNT, default=episodes_default, metavar="N",
                        help=f"{episodes_help} (default: {episodes_default})")
    parser.add_argument("--seed", type=SEED, default=None,
                        help=f"seed for a repeatable run on this machine, 0 to {MAX_SEED} (default: none)")
    parser.add_argument("--render", choices=RENDER_CHOICES, default=render_default,
                        help=f"'human' opens a window, 'none' runs headless (default: {render_default})")


def _add_model(parser, help_text):
    parser.add_argument("--model", default=DEFAULT_MODEL_PATH, metavar="PATH",
                        help=f"{help_text} (default: {DEFAULT_MODEL_PATH})")


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, without breaking lines inside hyphenated names such as ddqn-soft-bootstrap."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _add_training_logs(parser):
    parser.add_argument("--log-dir", default=None, metavar="DIR",
                        help="folder for the CSV logs <model>-training.csv and <model>-evals.csv and the score "
                             "plot <model>-training.png (default: the model's folder)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="also write TensorBoard scalars (score, epsilon, memory) to DIR")


def _add_checkpoints(parser):
    group = parser.add_argument_group("checkpoints (everything training needs to go on after a crash)")
    group.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                       help="go on from the checkpoint beside --model (e.g. cartpole-dqn.ckpt), or from PATH; "
                            "every hyperparameter and --seed must be those it was written with")
    group.add_argument("--checkpoint-every", type=RealNumber(0.0), default=checkpoint.DEFAULT_INTERVAL,
                       metavar="SECONDS",
                       help="write the checkpoint after the first episode, then at the first episode end this "
                            "many seconds after the last one (also after the last episode and whenever a model is "
                            f"saved); 0: after every episode (default: {checkpoint.DEFAULT_INTERVAL:g})")
    group.add_argument("--no-checkpoint", action="store_true", help="keep no checkpoint")


def _add_test_outputs(parser):
    parser.add_argument("--pretrained", action="store_true",
                        help="play the pretrained model shipped with the package instead of --model")
    parser.add_argument("--gif", default=None, metavar="PATH",
                        help="record the episodes as an animated GIF (headless; works with --render none)")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="plot the test scores to PATH, in the format its suffix names (.png, .svg, .pdf, ...)")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrorParser(
        prog="cartpole-dqn",
        description="Deep Q-learning on CartPole-v1 with Keras: the classic tutorial's agent, fast.",
        epilog="examples:\n"
               "  cartpole-dqn train --stop-when-solved  train until a confirmed model balances the pole\n"
               "  cartpole-dqn test --best              watch the best evaluated model play 20 episodes\n"
               "  cartpole-dqn train                    the tutorial's 1000 episodes; cartpole-dqn.h5 at each 500\n"
               "  cartpole-dqn train --episodes 200 --seed 1\n"
               "  cartpole-dqn train --preset ddqn-soft-bootstrap --episodes 300 --stop-when-solved\n"
               "                                        Double DQN with the options that keep it learned\n"
               "  cartpole-dqn test                     watch cartpole-dqn.h5 play 20 episodes\n"
               "  cartpole-dqn test --render none       the same, headless\n"
               "  cartpole-dqn test --pretrained        watch the agent shipped with the package\n"
               "  cartpole-dqn test --pretrained --render none --gif play.gif --plot scores.png\n"
               "  cartpole-dqn random                   the tutorial's random play\n"
               "  cartpole-dqn bench                    speed against the tutorial's own code\n"
               "  cartpole-dqn bench --learning         how often train --stop-when-solved balances the pole, 10 seeds",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,test,random,bench}")

    train = commands.add_parser(
        "train", formatter_class=_HelpFormatter,
        help="train the agent; keeps the best evaluated model and the tutorial's last 500",
        description="Train the DQN agent. Prints one line per episode and saves the model each "
                    "time an episode reaches 500 (the tutorial's rule). After every episode the network "
                    "also plays greedy evaluation episodes; the best one, confirmed on more episodes, is "
                    "saved as <model>-best.h5. Ctrl-C stops cleanly.")
    _add_common(train, "none", DEFAULTS.EPISODES, "episodes to train (the tutorial's EPISODES)")
    _add_model(train, "where the model is saved")
    _add_training_logs(train)
    _add_checkpoints(train)
    add_flags(train)
    _add_evaluation_arguments(train)
    train.set_defaults(run=run_train)

    test = commands.add_parser(
        "test", formatter_class=_HelpFormatter,
        help="play greedy episodes with a saved model",
        description="Load a saved model and play greedy episodes (no exploration, no learning).")
    _add_common(test, "human", TEST_EPISODES, "episodes to play")
    _add_model(test, "the model to load")
    _add_test_outputs(test)
    test.add_argument("--best", action="store_true",
                      help="load the best evaluated model saved beside --model (e.g. cartpole-dqn-best.h5)")
    test.set_defaults(run=run_test)

    random_play = commands.add_parser(
        "random", formatter_class=_HelpFormatter,
        help="the tutorial's first program: play with random actions",
        description="Play CartPole with random actions, printing every step.")
    _add_common(random_play, "none", DEFAULT_RANDOM_EPISODES, "games to play")
    random_play.set_defaults(run=run_random)

    _add_bench(commands)
    return parser


def _add_bench(commands):
    bench = commands.add_parser(
        "bench", formatter_class=_HelpFormatter,
        help="time training against the tutorial's code, or measure learning over seeds",
        description="Speed (default): time the training loop, the tutorial's per-sample replay and the bare "
                    "update in one process; the last line is machine-readable. With --learning: train "
                    "several seeds as train --stop-when-solved does, in parallel processes, and test the best "
                    "and the last-500 model of each 20 times; writes a CSV and a plot. With --keep-training: the "
                    "study, every seed trained for --max-episodes. See BENCHMARKS.md.")
    bench.add_argument("--steps", type=COUNT, default=3000, metavar="N",
                       help="timed environment steps of the package's training loop (default: 3000)")
    bench.add_argument("--tutorial-steps", type=COUNT, default=3, metavar="N",
                       help="timed steps of the tutorial's loop, several seconds each (default: 3)")
    bench.add_argument("--updates", type=COUNT, default=300, metavar="N",
                       help="timed bare replay updates (default: 300)")
    bench.add_argument("--learning", action="store_true",
                       help="run the learning benchmark instead of the speed benchmark")
    bench.add_argument("--keep-training", action="store_true",
                       help="with --learning: the study: train every seed for --max-episodes, never stopping "
                            "when solved, and record how often its evaluation stays solved; plots the median "
                            "evaluation mean against episodes (default plot: evaluation-medians.png)")
    bench.add_argument("--ray", nargs="?", const=LOCAL_RUNTIME, default=None, metavar="ADDRESS",
                       help="with --learning: run the seeds as Ray tasks on the cluster at ADDRESS (its head "
                            "node's host:port, or auto: the one `ray start` started here; a cluster with token "
                            "authentication also needs RAY_AUTH_MODE=token and its token in RAY_AUTH_TOKEN), or on "
                            f"a local Ray runtime without one; needs the extra: {INSTALL_RAY}")
    bench.add_argument("--seeds", type=COUNT, default=10, metavar="N",
                       help="with --learning: number of seeds, from --seed on (default: 10)")
    bench.add_argument("--max-episodes", type=COUNT, default=DEFAULTS.EPISODES, metavar="N",
                       help="with --learning: give up on a seed after this many episodes "
                            f"(default: {DEFAULTS.EPISODES})")
    bench.add_argument("--workers", type=COUNT, default=None, metavar="N",
                       help="with --learning: seeds trained at once, one process each (default: the cores "
                            f"this process may use, {available_cores()} here)")
    bench.add_argument("--csv", default=None, metavar="PATH",
                       help="with --learning: the per-seed rows (default: bench-learning/<preset>.csv); each "
                            "seed's printed lines go beside it")
    bench.add_argument("--plot", default=None, metavar="PATH",
                       help="with --learning: the fraction of seeds solved against episodes, one curve per CSV "
                            "in the --csv folder, in the format the suffix names (default: fraction-solved.png "
                            "there)")
    bench.add_argument("--seed", type=SEED, default=0, help="(first) seed (default: 0)")
    add_flags(bench)
    bench.set_defaults(run=run_bench)


def _add_evaluation_arguments(parser) -> None:
    """The ``train`` flags that control evaluation, the best model and early stopping."""
    group = parser.add_argument_group("evaluation (greedy episodes that pick the best model)")
    group.add_argument("--eval-episodes", type=WholeNumber(0, description="0 (off) or a positive whole number"),
                       default=DEFAULT_EVAL_EPISODES, metavar="N",
                       help="greedy episodes of each evaluation's screen; 0 turns evaluation off "
                            f"(default: {DEFAULT_EVAL_EPISODES})")
    group.add_argument("--eval-every", type=COUNT, default=DEFAULT_EVAL_EVERY, metavar="K",
                       help=f"evaluate after every K-th episode and after every {MAX_SCORE} "
                            f"(default: {DEFAULT_EVAL_EVERY}, every episode)")
    group.add_argument("--confirm-episodes", type=COUNT, default=DEFAULT_CONFIRM_EPISODES, metavar="M",
                       help="greedy episodes from other starting states that confirm a screen at least as good "
                            f"as the best model before it replaces it (default: {DEFAULT_CONFIRM_EPISODES})")
    group.add_argument("--best-model", default=None, metavar="PATH",
                       help="where the best evaluated model is saved (default: the --model name "
                            "with -best, e.g. cartpole-dqn-best.h5)")
    group.add_argument("--stop-when-solved", type=STOP_THRESHOLD, nargs="?", const=EVERY_EPISODE_AT_500,
                       default=None, metavar="MEAN",
                       help=f"without a value: stop training once the best model played {MAX_SCORE} in every "
                            "one of its screen and confirmation episodes (solved); with MEAN: once its screen and "
                            f"confirmation means both reach MEAN ({SOLVED_THRESHOLD:g} is CartPole-v1's reward "
                            f"threshold; such a model may still fall before {MAX_SCORE} in a test)")


def training_settings(args) -> TrainingSettings:
    """What the ``train`` flags ask for."""
    return TrainingSettings(
        hyperparameters_from(args), seed=args.seed, render=args.render, model=args.model, log_dir=args.log_dir,
        tensorboard=args.tensorboard, resume=args.resume or False, keep_checkpoint=not args.no_checkpoint,
        checkpoint_every=args.checkpoint_every, eval_episodes=args.eval_episodes, eval_every=args.eval_every,
        confirm_episodes=args.confirm_episodes, best_model=args.best_model, stop_when_solved=args.stop_when_solved)


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


def run_bench(args) -> int:
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise UserError(f"--seed {args.seed} with --seeds {args.seeds} runs seeds above {MAX_SEED}, the largest "
                        f"seed NumPy accepts")
    if args.ray is not None:
        if not args.learning:
            raise UserError("--ray runs the learning benchmark's seeds: give --learning too")
        check_ray(args.ray or None)  # LOCAL_RUNTIME: no address
    args.episodes = args.max_episodes  # the learning benchmark's EPISODES; the speed one stops by steps
    hyperparameters = hyperparameters_from(args)
    if args.learning:
        csv_path, plot_path = learning_files(args.preset, args.csv, args.plot, args.keep_training)
        check_plot_path(plot_path, "--plot")
        check_file(csv_path, "--csv")
    import_tensorflow_quietly()
    from cartpole_dqn import benchmark

    if not args.learning:
        benchmark.run_speed(hyperparameters, args.steps, args.tutorial_steps, args.updates, args.seed)
        return 0
    tasks = [benchmark.SeedTask(args.preset, hyperparameters, seed, keep_training=args.keep_training)
             for seed in range(args.seed, args.seed + args.seeds)]
    benchmark.run_study(tasks, args.workers or available_cores(), csv_path, plot_path, ray=args.ray)
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
