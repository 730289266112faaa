"""``cartpole-dqn bench`` runs end to end and ends with its machine-readable line.

Tiny step counts and batch 8 keep these fast; no test ever asserts a speed.
"""

import dataclasses
import re

import pytest

NUMBER = r"\d+(\.\d+)?"
BENCH_LINE = re.compile(
    rf"bench: steps_per_s={NUMBER} tutorial_steps_per_s={NUMBER} speedup={NUMBER} loop_overhead={NUMBER}")
LEARNING_LINE = re.compile(
    r"learning: preset=tutorial solved=\d+/3 median_solved_episode=(\d+(\.\d+)?|none) median_seconds=\d+\.\d "
    r"best_test_at_least_18of20=\d+/3 median_best_test_500s=(\d+(\.\d+)?|none)/20 "
    r"median_last500_test_500s=(\d+(\.\d+)?|none)/20")


def test_speed_benchmark_ends_with_machine_readable_line(cli):
    result = cli("bench", "--steps", 20, "--tutorial-steps", 1, "--updates", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert BENCH_LINE.fullmatch(lines[-1]), lines[-1]
    assert "not timed" in result.stdout  # the warm-up is announced and excluded
    assert "threads: 1 per TensorFlow operation" in result.stdout  # the process setting, stated


def test_learning_benchmark_runs_seeds_in_worker_processes_and_writes_csv_logs_and_plot(cli, tmp_path):
    result = cli("bench", "--learning", "--seeds", 3, "--max-episodes", 2, "--batch-size", 8, "--workers", 2,
                 "--csv", "out/tutorial.csv")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the workers import TensorFlow quietly
    lines = result.stdout.strip().splitlines()
    assert "seeds 0..2 on 2 worker processes" in lines[0]
    assert LEARNING_LINE.fullmatch(lines[-2]), lines[-2]
    assert lines[-1] == "plot of tutorial: out/fraction-solved.png"
    assert not any(line.startswith("episode:") for line in lines)  # each seed's lines go to its log
    rows = [line.split() for line in lines if re.match(r"\s*\d+\s+\d+\s", line)]
    assert sorted(row[0] for row in rows) == ["0", "1", "2"]

    from cartpole_dqn.benchmark import read_learning_csv

    results = read_learning_csv(tmp_path / "out" / "tutorial.csv")
    assert [(r.preset, r.seed, r.episodes, r.max_episodes) for r in results] == [
        ("tutorial", seed, 2, 2) for seed in range(3)]
    assert all(r.best_test_500s is not None and 0 <= r.best_test_mean <= 500 for r in results)  # evaluated, tested
    log = (tmp_path / "out" / "tutorial-seed1.log").read_text()
    assert log.startswith("episode: 0/2, score: ") and "test of cartpole-dqn-best.h5:" in log
    assert (tmp_path / "out" / "fraction-solved.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("**/*.h5"))  # models go to a scratch folder, never the working one


def test_one_seed_is_a_picklable_function_of_plain_values_giving_the_same_result_in_any_process():
    import pickle

    from cartpole_dqn.benchmark import SeedTask, learn_one_seed
    from cartpole_dqn.hyperparameters import DEFAULTS
    from cartpole_dqn.parallel import map_in_processes

    task = SeedTask("tutorial", DEFAULTS.replace(EPISODES=2, batch_size=8), seed=4, test_episodes=2)
    assert pickle.loads(pickle.dumps(learn_one_seed)) is learn_one_seed
    here, here_output = learn_one_seed(task)
    [(there, there_output)] = map_in_processes(learn_one_seed, [task], workers=1)
    assert dataclasses.replace(there, seconds=0) == dataclasses.replace(here, seconds=0)
    assert there_output == here_output


def test_learning_csv_round_trip(tmp_path):
    from cartpole_dqn.benchmark import SeedResult, read_learning_csv, write_learning_csv

    results = [SeedResult("tutorial", 3, 1000, 120, 50, 31.5, 119, 60.25, 119, 499.5, 20, 500.0, None, None, None, 20),
               SeedResult("tutorial", 4, 1000, 1000, None, None, None, 300.0, 7, 120.0, 0, 99.5, 40, 1, 150.0, 20)]
    assert read_learning_csv(write_learning_csv(results, tmp_path / "t.csv")) == results


@pytest.mark.parametrize("flag", ["--steps", "--workers"])
def test_bench_rejects_non_positive_counts(cli, flag):
    result = cli("bench", "--learning", flag, 0)
    assert result.returncode == 2
    assert result.stderr.strip() == f"cartpole-dqn: error: {flag} must be a positive whole number, got 0"


@pytest.mark.parametrize("flag", ["--csv", "--plot"])
def test_learning_benchmark_checks_its_outputs_before_any_seed_trains(cli, tmp_path, flag):
    (tmp_path / "taken").mkdir()
    result = cli("bench", "--learning", "--seeds", 1, "--max-episodes", 1, flag, "taken")
    assert result.returncode == 2
    assert result.stderr.strip() == f"cartpole-dqn: error: {flag} taken is a folder; it must name a file"
    assert not list(tmp_path.glob("**/*.log"))  # no seed ran
