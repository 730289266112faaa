"""``cartpole-dqn bench {speed,learning,profile,sb3,pixels}``: each benchmark its own flags, checked before anything
runs; the old flag forms answer with the new command."""

import pytest


@pytest.mark.parametrize(("benchmark", "flag"), [("speed", "--steps"), ("learning", "--workers")])
def test_bench_rejects_non_positive_counts(cli_error, benchmark, flag):
    assert cli_error("bench", benchmark, flag, 0) == (
        f"cartpole-dqn: error: {flag} must be a positive whole number, got 0"
    )


@pytest.mark.parametrize(
    ("old_form", "message"),
    [
        (["--learning", "--seeds", 2], "bench --learning is now 'cartpole-dqn bench learning'"),
        (["--keep-training", "--learning"], "bench --learning is now 'cartpole-dqn bench learning'"),
        (["--profile"], "bench --profile is now 'cartpole-dqn bench profile'"),
        (["--against-sb3", "--rounds", 1], "bench --against-sb3 is now 'cartpole-dqn bench sb3'"),
        (
            [],
            "bench needs a benchmark: 'cartpole-dqn bench speed' (against the tutorial's code), learning, "
            "profile or sb3",
        ),
        (
            ["--steps", 20],
            "bench needs a benchmark: 'cartpole-dqn bench speed' (against the tutorial's code), "
            "learning, profile or sb3",
        ),
    ],
)
def test_the_old_flag_forms_answer_with_the_new_command_in_one_line(cli_error, old_form, message):
    assert cli_error("bench", *old_form) == f"cartpole-dqn: error: {message}"


def test_each_benchmark_takes_only_its_own_flags(cli_error):
    assert cli_error("bench", "speed", "--seeds", 2) == "cartpole-dqn: error: unrecognized arguments: --seeds 2"
    assert cli_error("bench", "learning", "--steps", 2) == "cartpole-dqn: error: unrecognized arguments: --steps 2"
    assert cli_error("bench", "profile", "--rounds", 2) == "cartpole-dqn: error: unrecognized arguments: --rounds 2"


@pytest.mark.parametrize("flag", ["--csv", "--plot"])
def test_learning_benchmark_checks_its_outputs_before_any_seed_trains(cli_error, tmp_path, flag):
    (tmp_path / "taken").mkdir()
    assert cli_error("bench", "learning", "--seeds", 1, "--max-episodes", 1, flag, "taken") == (
        f"cartpole-dqn: error: {flag} taken is a folder; it must name a file"
    )
    assert not list(tmp_path.glob("**/*.log"))  # no seed ran


@pytest.mark.parametrize("benchmark", ["speed", "profile"])
def test_the_four_number_benchmarks_send_frames_to_bench_pixels(cli_error, benchmark):
    assert cli_error("bench", benchmark, "--preset", "per-d3qn-pixels") == (
        f"cartpole-dqn: error: bench {benchmark} times the recipes on CartPole's 4 numbers; "
        "for frames: cartpole-dqn bench pixels"
    )
