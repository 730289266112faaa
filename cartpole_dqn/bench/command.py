"""``cartpole-dqn bench {speed,learning,profile,sb3,pixels}``: each benchmark's own flags, and the call it makes.

The command line hands this module its ``bench`` parser; a new benchmark is one more subcommand here and its
module beside this one.  Nothing here imports TensorFlow before a benchmark runs: ``--help`` answers at once.
"""

from __future__ import annotations

from cartpole_dqn import process
from cartpole_dqn.bench.ray_cluster import INSTALL_RAY, LOCAL_RUNTIME, check_ray
from cartpole_dqn.bench.sb3 import INSTALL_SB3, check_sb3_installed
from cartpole_dqn.bench.workers import available_cores
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS, add_flags, hyperparameters_from
from cartpole_dqn.number_types import COUNT, MAX_SEED, SEED, WholeNumber
from cartpole_dqn.output_files import check_file, check_plot_path
from cartpole_dqn.training.run_files import learning_files

THREADS_OR_DEFAULT = WholeNumber(0, description="a positive whole number, or 0 for PyTorch's own default")
# The flags that chose a benchmark before each had its own command, and the command each is now.
OLD_FORMS = {"--learning": "learning", "--profile": "profile", "--against-sb3": "sb3"}


def add_benchmarks(bench) -> None:
    """The five benchmarks as subcommands of ``bench`` (an argparse parser), each with its flags."""
    benchmarks = bench.add_subparsers(dest="benchmark", required=True, metavar="{speed,learning,profile,sb3,pixels}")

    def add(name, help_text, description, run):
        parser = benchmarks.add_parser(
            name, help=help_text, description=f"{description} See BENCHMARKS.md.", formatter_class=bench.formatter_class
        )
        parser.add_argument("--seed", type=SEED, default=0, help=f"(first) seed, 0 to {MAX_SEED} (default: 0)")
        add_flags(parser)
        parser.set_defaults(run=run, episodes=DEFAULTS.EPISODES)
        return parser

    speed = add(
        "speed",
        "time training against the tutorial's own code",
        "Time the training loop, the tutorial's per-sample replay and the bare update in one process; the last "
        "line is machine-readable.",
        run_speed,
    )
    _add_steps(speed)
    speed.add_argument(
        "--tutorial-steps",
        type=COUNT,
        default=3,
        metavar="N",
        help="timed steps of the tutorial's loop, several seconds each (default: 3)",
    )
    _add_count(speed, "--updates", 300, "timed bare replay updates")

    learning = add(
        "learning",
        "how often train --stop-when-solved balances the pole, over seeds",
        "Train several seeds as train --stop-when-solved does, in parallel processes or as Ray tasks, and test "
        "the best and the last-500 model of each 20 times; writes a CSV and a plot. With --keep-training: "
        "the study, every seed trained for --max-episodes.",
        run_learning,
    )
    _add_learning_flags(learning)

    profile = add(
        "profile", "the time of each part of one training step", "Time each part of one training step.", run_profile
    )
    _add_count(
        profile,
        "--updates",
        300,
        "calls of each part (the environment, the minibatch, each part of the compiled replay call), in 5 rounds",
    )

    sb3 = add(
        "sb3",
        "the training loop beside Stable-Baselines3's DQN, set as the recipe and stock",
        "Time the training loop beside Stable-Baselines3's DQN configured as the recipe and beside SB3's DQN with "
        "its stock MlpPolicy (the same layers, no Dropout), in turns, --rounds times, --steps steps each; needs "
        f"the extra: {INSTALL_SB3}.",
        run_sb3,
    )
    _add_steps(sb3)
    _add_count(sb3, "--rounds", 3, "turns of each side")
    sb3.add_argument(
        "--sb3-threads",
        type=THREADS_OR_DEFAULT,
        default=1,
        metavar="N",
        help="torch.set_num_threads for both SB3 sides (one thread per operation, as TensorFlow's; more threads "
        "collapse on a machine with other work), 0 for PyTorch's own default, a thread per core (default: 1)",
    )

    pixels = benchmarks.add_parser(
        "pixels",
        help="the author's lesson 6 (per-d3qn-pixels): its replay beside his calls, and its seconds a step",
        description="Time the author's lesson 6 (--preset per-d3qn-pixels): his replay's three predicts and fit "
        "against the package's replay on the same minibatch, in turns, then the training loop. See BENCHMARKS.md.",
        formatter_class=bench.formatter_class,
    )
    pixels.add_argument("--seed", type=SEED, default=0, help=f"seed, 0 to {MAX_SEED} (default: 0)")
    _add_count(pixels, "--rounds", 3, "turns of his calls and the package's replay")
    _add_count(pixels, "--replays", 5, "replays timed per side and round")
    _add_count(pixels, "--steps", 40, "timed environment steps of the training loop")
    pixels.set_defaults(run=run_pixels)


def _add_count(parser, flag, default, help_text, **options) -> None:
    parser.add_argument(
        flag, type=COUNT, default=default, metavar="N", help=f"{help_text} (default: {default})", **options
    )


def _add_steps(parser) -> None:
    _add_count(parser, "--steps", 3000, "timed environment steps of the package's training loop")


def _add_learning_flags(learning) -> None:
    learning.add_argument(
        "--keep-training",
        action="store_true",
        help="the study: train every seed for --max-episodes, never stopping when solved, and record how often "
        "its evaluation stays solved; plots the median evaluation mean against episodes (default plot: "
        "evaluation-medians.png)",
    )
    learning.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RUNTIME,
        default=None,
        metavar="ADDRESS",
        help="run the seeds as Ray tasks on the cluster at ADDRESS (its head node's host:port, or auto: the one "
        "`ray start` started here; a cluster with token authentication also needs RAY_AUTH_MODE=token and its "
        f"token in RAY_AUTH_TOKEN), or on a local Ray runtime without one; needs the extra: {INSTALL_RAY}",
    )
    _add_count(learning, "--seeds", 10, "number of seeds, from --seed on")
    # The seeds' EPISODES: hyperparameters_from reads it as every command's --episodes.
    _add_count(
        learning, "--max-episodes", DEFAULTS.EPISODES, "give up on a seed after this many episodes", dest="episodes"
    )
    learning.add_argument(
        "--workers",
        type=COUNT,
        default=None,
        metavar="N",
        help=f"seeds trained at once, one process each (default: the cores this process may use, "
        f"{available_cores()} here)",
    )
    learning.add_argument(
        "--csv",
        default=None,
        metavar="PATH",
        help="the per-seed rows (default: bench-learning/<preset>.csv); each seed's printed lines go beside it",
    )
    learning.add_argument(
        "--plot",
        default=None,
        metavar="PATH",
        help="the fraction of seeds solved against episodes, one curve per CSV in the --csv folder, in the "
        "format the suffix names (default: fraction-solved.png there)",
    )


def old_form_error(argv) -> str | None:
    """The one line for ``bench`` with a benchmark's old flag (``bench --learning ...``), or None."""
    if argv[:1] != ["bench"] or argv[1:2] and (not argv[1].startswith("-") or argv[1] in ("-h", "--help")):
        return None
    for flag, benchmark in OLD_FORMS.items():
        if flag in argv[1:]:
            return f"bench {flag} is now 'cartpole-dqn bench {benchmark}'"
    return "bench needs a benchmark: 'cartpole-dqn bench speed' (against the tutorial's code), learning, profile or sb3"


def _four_numbers(args, benchmark: str):
    """The recipe of ``args``, unless it sees frames: these benchmarks time the recipes on CartPole's 4 numbers."""
    hyperparameters = hyperparameters_from(args)
    if hyperparameters.observation == "pixels":
        raise UserError(
            f"bench {benchmark} times the recipes on CartPole's 4 numbers; for frames: cartpole-dqn bench pixels"
        )
    return hyperparameters


def run_speed(args) -> int:
    hyperparameters = _four_numbers(args, "speed")
    process.import_tensorflow_quietly()  # looked up here, so a test can stand in for it
    from cartpole_dqn.bench.speed import run_speed

    run_speed(hyperparameters, args.steps, args.tutorial_steps, args.updates, args.seed)
    return 0


def run_profile(args) -> int:
    hyperparameters = _four_numbers(args, "profile")
    process.import_tensorflow_quietly()
    from cartpole_dqn.bench.profile import run_profile

    run_profile(hyperparameters, args.updates, args.seed)
    return 0


def run_pixels(args) -> int:
    process.import_tensorflow_quietly()
    from cartpole_dqn.bench.pixel_speed import run_pixel_speed

    run_pixel_speed(args.rounds, args.replays, args.steps, args.seed)
    return 0


def run_sb3(args) -> int:
    check_sb3_installed()
    hyperparameters = _four_numbers(args, "sb3")
    # Its worker processes load TensorFlow and PyTorch; this one needs neither.
    from cartpole_dqn.bench.sb3 import run_against_sb3

    run_against_sb3(hyperparameters, args.steps, args.rounds, args.seed, args.sb3_threads)
    return 0


def run_learning(args) -> int:
    if args.seed + args.seeds - 1 > MAX_SEED:
        raise UserError(
            f"--seed {args.seed} with --seeds {args.seeds} runs seeds above {MAX_SEED}, the largest seed NumPy accepts"
        )
    if args.ray is not None:
        check_ray(args.ray or None)  # LOCAL_RUNTIME: no address
    hyperparameters = hyperparameters_from(args)
    csv_path, plot_path = learning_files(args.preset, args.csv, args.plot, args.keep_training)
    check_plot_path(plot_path, "--plot")
    check_file(csv_path, "--csv")
    process.import_tensorflow_quietly()
    from cartpole_dqn.bench import learning

    tasks = [
        learning.SeedTask(args.preset, hyperparameters, seed, keep_training=args.keep_training)
        for seed in range(args.seed, args.seed + args.seeds)
    ]
    learning.run_learning_benchmark(tasks, args.workers or available_cores(), csv_path, plot_path, ray=args.ray)
    return 0
