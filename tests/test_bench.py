"""``cartpole-dqn bench`` runs end to end and ends with its machine-readable line.

Tiny step counts and batch 8 keep these fast; no test ever asserts a speed.
"""

import re

NUMBER = r"\d+(\.\d+)?"
BENCH_LINE = re.compile(
    rf"bench: steps_per_s={NUMBER} tutorial_steps_per_s={NUMBER} speedup={NUMBER} loop_overhead={NUMBER}")
LEARNING_LINE = re.compile(
    r"learning: solved=\d+/2 median_first500_episode=(\d+(\.\d+)?|none) "
    r"median_seconds=(\d+\.\d|none) median_test_500s=(\d+(\.\d+)?|none)/20")


def test_speed_benchmark_ends_with_machine_readable_line(cli):
    result = cli("bench", "--steps", 20, "--tutorial-steps", 1, "--updates", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert BENCH_LINE.fullmatch(lines[-1]), lines[-1]
    assert "not timed" in result.stdout  # the warm-up is announced and excluded
    assert "threads: 1 per TensorFlow operation" in result.stdout  # the process setting, stated


def test_learning_benchmark_prints_one_row_per_seed_and_summary(cli, tmp_path):
    result = cli("bench", "--learning", "--seeds", 2, "--max-episodes", 2, "--batch-size", 8)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert LEARNING_LINE.fullmatch(lines[-1]), lines[-1]
    rows = [line.split() for line in lines if re.match(r"\s*\d+\s+\d+\s", line)]
    assert [row[0] for row in rows] == ["0", "1"]
    assert not list(tmp_path.glob("*.h5"))  # models go to a scratch folder, never the working one


def test_bench_rejects_non_positive_counts(cli):
    result = cli("bench", "--steps", 0)
    assert result.returncode == 2
    assert result.stderr.strip() == "cartpole-dqn: error: --steps must be a positive whole number, got 0"
