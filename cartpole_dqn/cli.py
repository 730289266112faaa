"""Command line: ``python -m cartpole_dqn {train,test,random,bench}``.

TensorFlow takes seconds to import, so this module imports it only inside
the commands that need it: ``--help`` and bad arguments answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import textwrap
import time
from pathlib import Path

from cartpole_dqn import checkpoint
from cartpole_dqn.checkpoint import checkpoint_path
from cartpole_dqn.environment import MAX_SCORE, RENDER_CHOICES, make_env
from cartpole_dqn.errors import UserError
from cartpole_dqn.evaluation import (DEFAULT_CONFIRM_EPISODES, DEFAULT_EVAL_EPISODES, DEFAULT_EVAL_EVERY,
                                     SOLVED_THRESHOLD, STOP_THRESHOLD, TEST_EPISODES, Evaluator, best_model_path,
                                     evaluations_log_path, test_best_command, watch_line)
from cartpole_dqn.hyperparameters import (DEFAULT_MODEL_PATH, DEFAULT_PRESET, DEFAULTS, PRESETS,
                                          Hyperparameters, flag_of)
from cartpole_dqn.number_types import COUNT, MAX_SEED, SEED, RealNumber, WholeNumber
from cartpole_dqn.output_files import check_file, check_folder, check_model_path
from cartpole_dqn.parallel import available_cores
from cartpole_dqn.pretrained import PRETRAINED_MODEL
from cartpole_dqn.ray_cluster import INSTALL_RAY, check_ray_installed
from cartpole_dqn.sb3_side_by_side import INSTALL_SB3, check_sb3_installed
from cartpole_dqn.process import import_tensorflow_quietly, prepare_process
from cartpole_dqn.summary import summarize_test, training_summary
from cartpole_dqn.training_log import TrainingLog, log_paths

DEFAULT_RANDOM_EPISODES = 10  # the tutorial's random play runs 10 games
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
LOCAL_RAY = ""  # --ray without an address: a local Ray runtime  # the shell's code for a program stopped by Ctrl-C


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


def _add_hyperparameters(parser):
    parser.add_argument("--preset", choices=PRESETS, default=DEFAULT_PRESET,
                        help="the recipe every hyperparameter comes from, unless its own flag is given: "
                             "'tutorial' (the tutorial's README), 'dqn-script' (the tutorial repository's "
                             "Cart_Pole_game_DQN.py), 'ddqn' (the author's next lesson, Cartpole_DDQN_TF2.py, "
                             "with CartPole-v1's 500-step limit) or 'ddqn-soft-bootstrap' (ddqn with soft target "
                             "updates, gamma 0.99, the time limit bootstrapped, a memory of 20000 and epsilon down "
                             f"to 0.02: the one that stays learned) (default: {DEFAULT_PRESET})")
    group = parser.add_argument_group("hyperparameters (each flag overrides the preset's value)")
    for field in dataclasses.fields(Hyperparameters):
        if field.name == "EPISODES":
            continue  # --episodes, shared with the other commands
        help_text = f"{field.metadata['help']} ({_preset_values(field)})"
        # Left out of args unless given, so that the preset fills it in.
        if isinstance(field.default, bool):
            # --double-dqn / --no-double-dqn: either can override a preset.
            group.add_argument(flag_of(field.name), dest=field.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
            continue
        group.add_argument(flag_of(field.name), dest=field.name, type=field.metadata["number"] or str,
                           default=argparse.SUPPRESS, choices=field.metadata["choices"],
                           metavar=None if field.metadata["choices"] else field.name.upper(),
                           help=help_text)


def _preset_values(field):
    """'default: X', plus each preset's value where it differs: the help line of one field."""
    differing = [f"{name}: {getattr(hp, field.name)}" for name, hp in PRESETS.items()
                 if field.name in hp.differences(DEFAULTS)]
    return "; ".join([f"default: {getattr(DEFAULTS, field.name)}", *differing])


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
                       help="write the checkpoint at the first episode end this many seconds after the last "
                            "one (also after the last episode and whenever a model is saved); 0: after every "
                            f"episode (default: {checkpoint.DEFAULT_INTERVAL:g})")
    group.add_argument("--no-checkpoint", action="store_true", help="keep no checkpoint")


def _add_test_outputs(parser):
    parser.add_argument("--pretrained", action="store_true",
                        help="play the pretrained model shipped with the package instead of --model")
    parser.add_argument("--gif", default=None, metavar="PATH",
                        help="record the episodes as an animated GIF (headless; works with --render none)")
    parser.add_argument("--plot", default=None, metavar="PATH", help="write a PNG plot of the test scores")


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
    _add_hyperparameters(train)
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
                    "study, every seed trained for --max-episodes. With --profile: the time of each part of one "
                    "training step. With --against-sb3: the training loop beside Stable-Baselines3's DQN, "
                    "alternating. See BENCHMARKS.md.")
    bench.add_argument("--steps", type=COUNT, default=3000, metavar="N",
                       help="timed environment steps of the package's training loop (default: 3000)")
    bench.add_argument("--tutorial-steps", type=COUNT, default=3, metavar="N",
                       help="timed steps of the tutorial's loop, several seconds each (default: 3)")
    bench.add_argument("--updates", type=COUNT, default=300, metavar="N",
                       help="timed bare replay updates (default: 300)")
    bench.add_argument("--learning", action="store_true",
                       help="run the learning benchmark instead of the speed benchmark")
    bench.add_argument("--profile", action="store_true",
                       help="time each part of one training step (environment, minibatch, each part of the "
                            "compiled replay call), --updates calls of each, in 5 rounds")
    bench.add_argument("--against-sb3", action="store_true",
                       help="time the training loop beside Stable-Baselines3's DQN configured as the recipe, "
                            "alternating --rounds times, --steps steps each; needs the extra: " f"{INSTALL_SB3}")
    bench.add_argument("--rounds", type=COUNT, default=3, metavar="N",
                       help="with --against-sb3: turns of each side (default: 3)")
    bench.add_argument("--sb3-threads", type=COUNT, default=1, metavar="N",
                       help="with --against-sb3: torch.set_num_threads for SB3 (default: 1, one thread per "
                            "operation as TensorFlow's; more threads collapse on a machine with other work)")
    bench.add_argument("--keep-training", action="store_true",
                       help="with --learning: the study: train every seed for --max-episodes, never stopping "
                            "when solved, and record how often its evaluation stays solved; plots the median "
                            "evaluation mean against episodes (default plot: evaluation-medians.png)")
    bench.add_argument("--ray", nargs="?", const=LOCAL_RAY, default=None, metavar="ADDRESS",
                       help="with --learning: run the seeds as Ray tasks on the cluster at ADDRESS (ray.init's "
                            "address), or on a local Ray runtime without one; needs the extra: "
                            f"{INSTALL_RAY}")
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
                            "in the --csv folder (default: fraction-solved.png there)")
    bench.add_argument("--seed", type=SEED, default=0, help="(first) seed (default: 0)")
    _add_hyperparameters(bench)
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
    group.add_argument("--stop-when-solved", type=STOP_THRESHOLD, nargs="?", const=SOLVED_THRESHOLD, default=None,
                       metavar="THRESHOLD",
                       help="stop training once the best model's screen and confirmation means both reach "
                            f"THRESHOLD (default when given without a value: {SOLVED_THRESHOLD:g}, "
                            "CartPole-v1's reward threshold)")


def _evaluator_from(args):
    """The Evaluator the ``train`` flags ask for, or None when evaluation is off."""
    if args.eval_episodes == 0:
        if args.stop_when_solved is not None:
            raise UserError("--stop-when-solved needs evaluation; drop --eval-episodes 0")
        return None
    best = args.best_model if args.best_model is not None else best_model_path(args.model)
    if Path(best) == Path(args.model):
        raise UserError(f"--best-model must differ from --model ({args.model}): each run writes both")
    return Evaluator(best, episodes=args.eval_episodes, confirm_episodes=args.confirm_episodes,
                     every=args.eval_every, stop_at=args.stop_when_solved,
                     log_path=evaluations_log_path(args.model, args.log_dir))


def hyperparameters_from(args) -> Hyperparameters:
    """The chosen preset, with the values of the flags the user gave."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Hyperparameters) if hasattr(args, f.name)}
    return PRESETS[args.preset].replace(**given, EPISODES=args.episodes).validated()


def _new_agent(hyperparameters, seed, **options):
    """A DQNAgent in a process prepared for it: TensorFlow loaded, one thread per operation, seeded."""
    import_tensorflow_quietly()
    from cartpole_dqn.agent import DQNAgent

    prepare_process(seed)
    return DQNAgent(hyperparameters, seed=seed, **options)


def run_train(args) -> int:
    hyperparameters = hyperparameters_from(args)
    check_model_path(args.model)  # first: the other outputs' names derive from it
    evaluator = _evaluator_from(args)
    log_files = log_paths(args.model, args.log_dir)
    _check_training_outputs(args, evaluator, log_files)
    resume_from = _checkpoint_to_resume(args, hyperparameters)
    agent = _new_agent(hyperparameters, args.seed, render=args.render, model_path=args.model)
    log = TrainingLog(*log_files)
    stateful_hooks = [hook for hook in (evaluator, log) if hook is not None]
    agent.episode_hooks.extend(stateful_hooks)
    if args.tensorboard:
        from cartpole_dqn.tensorboard_log import TensorBoardLog

        agent.episode_hooks.append(TensorBoardLog(args.tensorboard))
    checkpointer = None
    if not args.no_checkpoint:
        checkpointer = checkpoint.Checkpointer(checkpoint_path(args.model), args.checkpoint_every, stateful_hooks)
        agent.episode_hooks.append(checkpointer)  # last: it saves what the hooks before it did
    if resume_from is not None:
        checkpoint.restore(agent, resume_from, stateful_hooks)
        print(f"resumed from {resume_from} after episode {agent.resume_episode - 1}: epsilon {agent.epsilon:.2}, "
              f"{len(agent.memory)} transitions in memory", flush=True)
    start = time.perf_counter()
    interrupted = False
    try:
        agent.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        agent.env.close()  # a window closes before the closing lines
    saved = args.model if agent.saved_episodes else None
    evaluations, best = (), None
    if evaluator is not None:
        evaluator.close()
        evaluations, best = evaluator.records, evaluator.best
    plot = log.write_plot(agent.saved_episodes, evaluations, best)
    logged = f"episode log {log.csv_path}, score plot {plot}" if plot else "no episode finished, no log written"
    if checkpointer is not None and checkpointer.written:
        logged += (f"; checkpoint {checkpointer.path} ({checkpointer.written} written in "
                   f"{checkpointer.seconds:.2f} s)")
    # One closing line, as before the log existed: scripts read it.
    print(f"{training_summary(agent.scores, time.perf_counter() - start, saved, interrupted)}; {logged}",
          flush=True)
    if evaluator is not None:
        print(evaluator.summary(args.model, agent.saved_episodes), flush=True)
    print(watch_line(args.model, bool(saved), evaluator.best_path if best is not None else None), flush=True)
    return EXIT_INTERRUPTED if interrupted else 0


def _checkpoint_to_resume(args, hyperparameters):
    """The checkpoint --resume names, checked against this run's settings before TensorFlow loads; or None."""
    if args.resume is None:
        return None
    path = checkpoint_path(args.model) if args.resume is True else Path(args.resume)
    meta, _ = checkpoint.read(path)
    checkpoint.check_recipe(meta, hyperparameters, args.seed, path)
    return path


def _check_training_outputs(args, evaluator, log_files) -> None:
    """Every other file and folder training will write, checked before it starts (UserError if one cannot be)."""
    for path in log_files:
        check_file(path, "training log")
    if evaluator is not None:
        check_model_path(evaluator.best_path, "--best-model")
        check_file(evaluator.log_path, "evaluation log")
    if args.tensorboard:
        check_folder(args.tensorboard, "--tensorboard")
    if not args.no_checkpoint:
        check_file(checkpoint_path(args.model), "checkpoint")


def run_test(args) -> int:
    hyperparameters = DEFAULTS.replace(EPISODES=args.episodes).validated()
    model_path = _model_to_test(args)
    for flag in ("gif", "plot"):
        if getattr(args, flag):
            check_file(getattr(args, flag), f"--{flag}")
    recorder = None
    if args.gif:
        from cartpole_dqn.gif_recorder import recording_env

        # It also shows the frames in a window with --render human.
        env, recorder = recording_env(args.render)
    else:
        env = make_env(args.render)
    agent = _new_agent(hyperparameters, args.seed, env=env, model_path=model_path)
    interrupted = False
    try:
        agent.test()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        env.close()  # a window closes before the closing lines
    print(summarize_test(agent.scores), flush=True)
    _write_test_outputs(agent.scores, recorder, args)
    return EXIT_INTERRUPTED if interrupted else 0


def _model_to_test(args):
    """--model, or the best evaluated model beside it (--best), or the shipped one (--pretrained)."""
    if args.pretrained:
        return str(PRETRAINED_MODEL)
    if checkpoint.is_checkpoint(args.model):
        raise UserError(f"{args.model} is a training checkpoint, for train --resume; test plays a model file "
                        f"(.h5, .keras)")
    best = best_model_path(args.model)
    if not args.best:
        if not os.path.exists(args.model) and best.is_file():
            # train --stop-when-solved often writes only the best model (no training episode reached 500).
            raise UserError(f"no model file at {args.model}, but the best evaluated model is at {best}; "
                            f"play it with: {test_best_command(args.model)}")
        return args.model
    if not best.is_file():
        raise UserError(f"no best model at {best}; train with evaluation on (the default) and "
                        f"--model {args.model} until an evaluation has run")
    return best


def _write_test_outputs(scores, recorder, args) -> None:
    if recorder is not None and recorder.frames:
        print(f"recording: {recorder.save(args.gif)}", flush=True)
    if args.plot and scores:
        from cartpole_dqn.plots import plot_test_scores

        print(f"score plot: {plot_test_scores(scores, args.plot)}", flush=True)


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
        check_ray_installed()
    chosen = [flag for flag, given in (("--learning", args.learning), ("--profile", args.profile),
                                       ("--against-sb3", args.against_sb3)) if given]
    if len(chosen) > 1:
        raise UserError(f"{' and '.join(chosen)} are separate benchmarks: give one of them")
    if args.against_sb3:
        check_sb3_installed()
    args.episodes = args.max_episodes  # the learning benchmark's EPISODES; the speed one stops by steps
    hyperparameters = hyperparameters_from(args)
    import_tensorflow_quietly()
    from cartpole_dqn import benchmark

    if args.learning:
        _run_learning_bench(benchmark, hyperparameters, args)
    elif args.profile:
        from cartpole_dqn.step_profile import run_profile

        run_profile(hyperparameters, args.updates, args.seed)
    elif args.against_sb3:
        from cartpole_dqn.sb3_side_by_side import run_against_sb3

        run_against_sb3(hyperparameters, args.steps, args.rounds, args.seed, args.sb3_threads)
    else:
        benchmark.run_speed(hyperparameters, args.steps, args.tutorial_steps, args.updates, args.seed)
    return 0


def _run_learning_bench(benchmark, hyperparameters, args) -> None:
    csv_path = Path(args.csv if args.csv is not None else f"bench-learning/{args.preset}.csv")
    default_plot = "evaluation-medians.png" if args.keep_training else "fraction-solved.png"
    plot_path = args.plot if args.plot is not None else csv_path.parent / default_plot
    check_file(csv_path, "--csv")
    check_file(plot_path, "--plot")
    seeds = range(args.seed, args.seed + args.seeds)
    tasks = [benchmark.SeedTask(args.preset, hyperparameters, seed, keep_training=args.keep_training)
             for seed in seeds]
    workers = min(args.workers or available_cores(), len(tasks))
    if args.ray is None:
        benchmark.run_learning(tasks, workers, csv_path, csv_path.parent)
    else:
        from cartpole_dqn.ray_cluster import ray_mapper

        address = None if args.ray == LOCAL_RAY else args.ray
        benchmark.run_learning(tasks, workers, csv_path, csv_path.parent, mapper=ray_mapper(address),
                               where=f"as Ray tasks ({'a local runtime' if address is None else address})")
    if args.keep_training:
        curves, plot = _plot_study(benchmark, csv_path.parent, plot_path)
    else:
        curves, plot = _plot_fraction_solved(benchmark, csv_path.parent, plot_path)
    print(f"plot of {', '.join(curves)}: {plot}", flush=True)


def _plot_fraction_solved(benchmark, folder, plot):
    from cartpole_dqn.plots import plot_fraction_solved

    curves = {}
    for path in sorted(folder.glob("*.csv")):
        rows = benchmark.read_learning_csv(path)
        curves[path.stem] = ([r.solved for r in rows], max(r.max_episodes for r in rows))
    return curves, plot_fraction_solved(curves, plot)


def _plot_study(benchmark, folder, plot):
    """The median evaluation mean against episodes, one curve per study CSV in ``folder``."""
    from cartpole_dqn.plots import plot_evaluation_medians

    curves = {}
    for path in sorted(folder.glob("*.csv")):
        seeds = sorted(benchmark.evaluations_folder(path).glob("seed*.csv"))
        if seeds:
            curves[path.stem] = [benchmark.read_evaluation_means(seed) for seed in seeds]
    return curves, plot_evaluation_medians(curves, plot, SOLVED_THRESHOLD)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"cartpole-dqn: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
