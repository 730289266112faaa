"""``cartpole-dqn bench`` runs end to end and ends with its machine-readable line.

Tiny step counts and batch 8 keep these fast; no test ever asserts a speed.
"""

import dataclasses
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading

import pytest

from conftest import REPO

NUMBER = r"\d+(\.\d+)?"
BENCH_LINE = re.compile(
    rf"bench: steps_per_s={NUMBER} tutorial_steps_per_s={NUMBER} speedup={NUMBER} loop_overhead={NUMBER}"
)
LEARNING_LINE = re.compile(
    r"learning: preset=tutorial solved=\d+/3 median_solved_episode=(\d+(\.\d+)?|none) median_seconds=\d+\.\d "
    r"best_test_at_least_19of20=\d+/3 median_best_test_500s=(\d+(\.\d+)?|none)/20 "
    r"median_last500_test_500s=(\d+(\.\d+)?|none)/20 reached=\d+/3 median_first_reached=(\d+(\.\d+)?|none) "
    r"median_seconds_to_first_reached=(\d+\.\d|none) median_stays_solved=(\d\.\d\d|none)"
)


@pytest.mark.slow
def test_speed_benchmark_ends_with_machine_readable_line(cli):
    result = cli("bench", "speed", "--steps", 20, "--tutorial-steps", 1, "--updates", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert BENCH_LINE.fullmatch(lines[-1]), lines[-1]
    assert "not timed" in result.stdout  # the warm-up is announced and excluded
    assert "threads: 1 per TensorFlow operation" in result.stdout  # the process setting, stated


@pytest.mark.slow
def test_learning_benchmark_runs_seeds_in_worker_processes_and_writes_csv_logs_and_plot(cli, tmp_path):
    result = cli(
        "bench",
        "learning",
        "--seeds",
        3,
        "--max-episodes",
        2,
        "--batch-size",
        8,
        "--workers",
        2,
        "--csv",
        "out/tutorial.csv",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the workers import TensorFlow quietly
    lines = result.stdout.strip().splitlines()
    assert "seeds 0..2 on 2 worker processes" in lines[0]
    assert "train --stop-when-solved (stop: the best model at 500 in every evaluation episode)" in lines[0]
    assert LEARNING_LINE.fullmatch(lines[-2]), lines[-2]
    assert lines[-1] == "plot of tutorial: out/fraction-solved.png"
    assert not any(line.startswith("episode:") for line in lines)  # each seed's lines go to its log
    rows = [line.split() for line in lines if re.match(r"\s*\d+\s+\d+\s", line)]
    assert sorted(row[0] for row in rows) == ["0", "1", "2"]

    from cartpole_dqn.bench.learning import read_learning_csv

    results = read_learning_csv(tmp_path / "out" / "tutorial.csv")
    assert [(r.preset, r.seed, r.episodes, r.max_episodes) for r in results] == [
        ("tutorial", seed, 2, 2) for seed in range(3)
    ]
    assert all(r.best_test_500s is not None and 0 <= r.best_test_mean <= 500 for r in results)  # evaluated, tested
    log = (tmp_path / "out" / "tutorial-seed1.log").read_text()
    assert log.startswith("episode: 0/2, score: ") and "test of cartpole-dqn-best.h5:" in log
    assert (tmp_path / "out" / "fraction-solved.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("**/*.h5"))  # models go to a scratch folder, never the working one


@pytest.mark.slow
def test_one_seed_is_a_picklable_function_of_plain_values_giving_the_same_result_in_any_process():
    import pickle

    from cartpole_dqn.bench.learning import SeedTask, learn_one_seed
    from cartpole_dqn.bench.workers import map_in_processes
    from cartpole_dqn.hyperparameters import DEFAULTS

    task = SeedTask("tutorial", DEFAULTS.replace(EPISODES=2, batch_size=8), seed=4, test_episodes=2)
    assert pickle.loads(pickle.dumps(learn_one_seed)) is learn_one_seed
    here, here_evaluations, here_output = learn_one_seed(task)
    [(there, there_evaluations, there_output)] = map_in_processes(learn_one_seed, [task], workers=1)
    assert dataclasses.replace(there, seconds=0) == dataclasses.replace(here, seconds=0)
    assert there_evaluations == here_evaluations and there_output == here_output


def test_the_progress_hook_reports_each_episode_and_leaves_training_as_it_was():
    import queue

    from cartpole_dqn.bench.learning import SeedTask, learn_one_seed
    from cartpole_dqn.hyperparameters import DEFAULTS

    task = SeedTask("tutorial", DEFAULTS.replace(EPISODES=2, batch_size=8), seed=4, test_episodes=2)
    reports = queue.Queue()
    quiet, quiet_evaluations, quiet_output = learn_one_seed(task)
    reported, evaluations, output = learn_one_seed(dataclasses.replace(task, progress=reports))
    assert dataclasses.replace(reported, seconds=0) == dataclasses.replace(quiet, seconds=0)
    assert evaluations == quiet_evaluations and output == quiet_output
    means = [mean for _, mean, _ in evaluations]
    assert [reports.get_nowait() for _ in range(2)] == [(4, 1, means[0]), (4, 2, max(means))]
    assert reports.empty()


def run_cli_on_a_terminal(*args, cwd):
    """``python -m cartpole_dqn ARGS`` with stderr on a terminal 120 columns wide (stdout a pipe, as when
    piped to a file); return (exit code, stdout, what the terminal got)."""
    terminal, stderr = pty.openpty()
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "cartpole_dqn", *map(str, args)],
        cwd=cwd,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    os.close(stderr)
    shown = []

    def read_terminal():
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # Linux: the program closed its end
                chunk = b""
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    out = process.communicate(timeout=600)[0]
    reader.join(timeout=60)
    os.close(terminal)
    return process.returncode, out, b"".join(shown).decode()


@pytest.mark.slow
def test_learning_benchmark_shows_each_seeds_progress_on_a_terminal_and_the_same_stdout(tmp_path):
    code, out, shown = run_cli_on_a_terminal(
        "bench",
        "learning",
        "--seeds",
        2,
        "--max-episodes",
        2,
        "--batch-size",
        8,
        "--workers",
        2,
        "--csv",
        "out/tutorial.csv",
        cwd=tmp_path,
    )
    assert code == 0, shown
    for seed in (0, 1):
        assert re.search(rf"seed {seed}:  50%\|.*\| 1/2 .*best evaluation {NUMBER}", shown), shown  # live
        assert re.search(rf"seed {seed}: 100%\|.*\| 2/2 .*best evaluation {NUMBER}", shown), shown
    from cartpole_dqn.bench.learning import LEARNING_HEADER

    lines = out.splitlines()  # what a run without a terminal prints (the test above): no bar, no escape
    assert "seeds 0..1 on 2 worker processes" in lines[0] and lines[1] == LEARNING_HEADER
    assert sorted(line.split()[0] for line in lines[2:4]) == ["0", "1"]
    assert lines[4:] == [
        "per-seed rows: out/tutorial.csv; each seed's lines: out",
        lines[5],
        "plot of tutorial: out/fraction-solved.png",
    ]
    assert lines[5].startswith("learning: preset=tutorial solved=")
    assert "\r" not in out and "\x1b" not in out


def test_learning_csv_round_trip(tmp_path):
    from cartpole_dqn.bench.learning import SeedResult, read_learning_csv, write_learning_csv

    results = [
        SeedResult("tutorial", 3, 1000, 120, 50, 31.5, 119, 60.25, 119, 499.5, 20, 500.0, None, None, None, 20, 0.8571),
        SeedResult("tutorial", 4, 1000, 1000, None, None, None, 300.0, 7, 120.0, 0, 99.5, 40, 1, 150.0, 20),
    ]
    assert read_learning_csv(write_learning_csv(results, tmp_path / "t.csv")) == results


def test_learning_csv_written_before_the_study_reads_back_without_stays_solved(tmp_path):
    from cartpole_dqn.bench.learning import read_learning_csv

    path = tmp_path / "old.csv"
    path.write_text(
        "preset,seed,max_episodes,episodes,first_reached,seconds_to_first_reached,solved,seconds,"
        "best_episode,best_score,best_test_500s,best_test_mean,last500_episode,last500_test_500s,"
        "last500_test_mean,test_episodes\ntutorial,0,300,40,35,9.5,39,12.0,39,480.0,19,495.5,,,,20\n"
    )
    [result] = read_learning_csv(path)
    assert (result.solved, result.best_test_500s, result.stays_solved) == (39, 19, None)


@pytest.mark.parametrize(
    "means, fraction",
    [
        ([100, 480, 300, 475, 500], 0.6667),  # after the first 475+: 300 no, 475 yes, 500 yes
        ([475, 500, 500], 1.0),
        ([480, 10, 20, 30], 0.0),
        ([10, 20, 474.9], None),  # never reached
        ([10, 20, 500], None),  # reached at the last evaluation: nothing after it
    ],
)
def test_stays_solved_is_the_fraction_of_evaluations_after_the_first_solved_one_that_stay_solved(means, fraction):
    from cartpole_dqn.bench.learning import stays_solved_fraction

    assert stays_solved_fraction(means, 475) == fraction


def test_keep_training_runs_every_episode_where_stop_when_solved_stops():
    from cartpole_dqn.bench.learning import SeedTask, learn_one_seed, stays_solved_fraction
    from cartpole_dqn.hyperparameters import DEFAULTS

    # A mean an untrained network reaches (its greedy episodes last ~9 steps), so the first evaluation solves.
    task = SeedTask(
        "tutorial", DEFAULTS.replace(EPISODES=3, batch_size=8), seed=1, threshold=5, test_episodes=2, stop_at=5
    )
    stopped, stopped_evaluations, _ = learn_one_seed(task)
    assert (stopped.episodes, stopped.solved, stopped.first_reached) == (1, 0, 0)
    assert len(stopped_evaluations) == 1

    # By default a seed stops as train --stop-when-solved without a value: on every evaluation episode at 500.
    unstopped, _, _ = learn_one_seed(dataclasses.replace(task, stop_at=SeedTask.stop_at))
    assert (unstopped.episodes, unstopped.solved, unstopped.first_reached) == (3, None, 0)

    kept, evaluations, _ = learn_one_seed(dataclasses.replace(task, keep_training=True))
    assert (kept.episodes, kept.solved, kept.first_reached) == (3, None, 0)
    assert [episode for episode, _, _ in evaluations] == [0, 1, 2]  # evaluated after every episode, as training does
    assert [finished for _, _, finished in evaluations] == [10] * 3  # the study cuts no screen short
    assert kept.stays_solved == stays_solved_fraction([mean for _, mean, _ in evaluations], 5)
    assert kept.stays_solved is not None


@pytest.mark.slow
def test_study_writes_rows_evaluation_means_per_seed_and_the_median_plot(cli, tmp_path):
    result = cli(
        "bench",
        "learning",
        "--keep-training",
        "--seeds",
        2,
        "--max-episodes",
        2,
        "--batch-size",
        8,
        "--workers",
        2,
        "--csv",
        "study/ddqn.csv",
        "--preset",
        "ddqn",
        "--plot",
        "study.png",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "train --keep-training (no stop when solved)" in lines[0]
    assert lines[-1] == "plot of ddqn: study.png"
    assert (tmp_path / "study.png").read_bytes()[:4] == b"\x89PNG"

    from cartpole_dqn.bench.learning import read_evaluation_means, read_learning_csv

    results = read_learning_csv(tmp_path / "study" / "ddqn.csv")
    assert [(r.preset, r.seed, r.episodes, r.solved) for r in results] == [("ddqn", 0, 2, None), ("ddqn", 1, 2, None)]
    for seed in (0, 1):
        means = read_evaluation_means(tmp_path / "study" / "ddqn-evals" / f"seed{seed}.csv")
        assert len(means) == 2 and all(0 < mean <= 500 for mean in means)


def test_a_study_stopped_early_keeps_the_rows_of_the_seeds_that_finished(tmp_path):
    from cartpole_dqn.bench.learning import SeedResult, SeedTask, read_learning_csv, run_learning
    from cartpole_dqn.hyperparameters import DEFAULTS

    finished = SeedResult("ddqn", 7, 300, 300, 40, 50.0, None, 400.0, 120, 500.0, 20, 500.0, 200, 3, 210.0, 20, 0.9)

    def stopped_after_one_seed(function, tasks):
        yield finished, [(0, 9.5, 10), (1, 480.0, 10)], "episode: 0/300, score: 10, e: 1.0\n"
        raise KeyboardInterrupt  # Ctrl-C, or the end of the session, while the next seed trains

    tasks = [SeedTask("ddqn", DEFAULTS.replace(EPISODES=300), seed, keep_training=True) for seed in (7, 8)]
    with pytest.raises(KeyboardInterrupt):
        run_learning(tasks, 2, tmp_path / "ddqn.csv", tmp_path, out=lambda line: None, mapper=stopped_after_one_seed)
    assert read_learning_csv(tmp_path / "ddqn.csv") == [finished]
    assert (tmp_path / "ddqn-evals" / "seed7.csv").read_text().splitlines() == [
        "episode,mean,finished",
        "0,9.5,10",
        "1,480.0,10",
    ]
    assert (tmp_path / "ddqn-seed7.log").read_text().startswith("episode: 0/300")


PROFILE_LINE = re.compile(rf"profile: loop_ms={NUMBER} around_call_ms={NUMBER} call_ms={NUMBER} call_share={NUMBER}")


def test_profile_times_each_part_of_a_step_and_ends_with_machine_readable_line(cli):
    result = cli("bench", "profile", "--updates", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert PROFILE_LINE.fullmatch(lines[-1]), lines[-1]
    parts = [line[:46].strip() for line in lines if re.search(rf"\s-?{NUMBER}\s+({NUMBER}\s+)?-?\d+%$", line)]
    assert parts == [
        "loop step (DQNAgent.run, per environment step)",
        "loop around the compiled call (call skipped)",
        "environment step (CartPole-v1)",
        "act (epsilon-greedy, Q-values known)",
        "remember",
        "minibatch: sample + arrays",
        "compiled call (train_step_then_q)",
        "forward, states + next states (inference)",
        "forward, states alone (inference)",
        "forward, next states alone (inference)",
        "matrix products alone",
        "Dropout layers alone (masks and product)",
        "training forward with Dropout",
        "training forward + backward",
        "Adam update of the weights",
        "forward, the next state to act on",
        "rest of the loop: Python, hooks, episode line",
    ]
