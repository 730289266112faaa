"""The command line: answers fast, refuses bad input in one line, trains and tests end to end."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, ctrl_c_reaches_children


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\nfrom cartpole_dqn.cli import main\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--epsilon-decay" in result.stdout and "default: 0.999" in result.stdout


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--episodes", "0"], "--episodes must be a positive whole number"),
        (["--episodes", "-3"], "--episodes must be a positive whole number"),
        (["--batch-size", "0"], "--batch-size must be a positive whole number"),
        (["--memory-size", "-1"], "--memory-size must be a positive whole number"),
        (["--gamma", "1.5"], "--gamma must be between 0 and 1"),
        (["--epsilon", "-0.1"], "--epsilon must be between 0 and 1"),
        (["--epsilon-min", "2"], "--epsilon-min must be between 0 and 1"),
        (["--epsilon-decay", "1.01"], "--epsilon-decay must be between 0 and 1"),
        (["--learning-rate", "0"], "--learning-rate must be positive"),
    ],
)
def test_impossible_hyperparameters_are_refused(cli_error, flags, message):
    assert message in cli_error("train", *flags)


def test_test_without_a_model_names_the_path_and_how_to_make_one(cli_error):
    line = cli_error("test", "--render", "none", "--model", "missing.h5", before_tensorflow=False)
    assert "no model file at missing.h5" in line and "python -m cartpole_dqn train --model missing.h5" in line


def test_test_with_a_corrupt_model_file(cli_error, tmp_path):
    (tmp_path / "corrupt.h5").write_text("not a model")
    line = cli_error("test", "--render", "none", "--model", "corrupt.h5", before_tensorflow=False)
    assert "corrupt.h5" in line and "not a readable Keras model" in line


def test_test_with_a_model_of_the_wrong_shape(cli_error, tmp_path):
    from cartpole_dqn.model import OurModel, save_model

    save_model(OurModel((6,), 3), tmp_path / "wide.h5")
    line = cli_error("test", "--render", "none", "--model", "wide.h5", before_tensorflow=False)
    assert "wide.h5" in line and "needs input (None, 4) and output (None, 2)" in line


def test_human_rendering_without_a_display_says_how_to_run_headless(cli_error, saved_model, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.setenv(name, "")
    line = cli_error("test", "--model", saved_model, "--episodes", "1")
    assert "no display available" in line and "--render none" in line


@pytest.mark.slow
def test_test_plays_greedy_episodes_and_summarises(cli, saved_model):
    # human rendering on SDL's dummy driver: the window code runs, nothing opens
    result = cli("test", "--model", saved_model, "--episodes", "3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(", score:")[0] for line in lines[:3]] == [f"episode: {e}/3" for e in range(3)]
    assert lines[3].startswith("test: reached 500 in 0/3 episodes, mean score")


@pytest.mark.slow
def test_train_prints_the_tutorials_lines_and_is_repeatable_with_a_seed(cli):
    runs = [cli("train", "--episodes", "4", "--seed", "5") for _ in range(2)]
    for result in runs:
        assert result.returncode == 0, result.stderr
    lines = [line for line in runs[0].stdout.strip().splitlines() if not line.startswith("eval: ")]
    assert len(lines) == 9
    assert all(line.startswith(f"episode: {e}/4, score: ") for e, line in enumerate(lines[:4]))
    assert lines[4].startswith("training finished: 4 episodes")
    assert lines[5].startswith("models: cartpole-dqn.h5 not written (no episode reached 500)")
    assert re.fullmatch(
        r"not solved: the best model, cartpole-dqn-best\.h5 \(episode \d\), played 500 in 0 of its 40 evaluation "
        r"episodes \(0%\); solved means 500 in every one of 140: 10 screen, 30 confirmation and 100 proof "
        r"episodes\. Play it: cartpole-dqn test --best",
        lines[6],
    )
    assert lines[7].startswith("solved soonest: ")
    assert lines[8] == "watch the best model (cartpole-dqn-best.h5): cartpole-dqn test --best"

    # Episode and evaluation lines repeat exactly; only the timings in the summary lines may differ.
    def untimed(result):
        return [
            re.sub(r"in \d+\.\d s$", "", line)
            for line in result.stdout.splitlines()
            if not line.startswith("training finished")
        ]

    assert untimed(runs[0]) == untimed(runs[1])


def test_random_play(cli):
    result = cli("random", "--episodes", "2", "--seed", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("random play: 2 games, mean length")


@pytest.mark.slow
def test_ctrl_c_stops_training_cleanly_and_keeps_the_saved_model(tmp_path, saved_model):
    model = tmp_path / "cartpole-dqn.h5"
    model.write_bytes(saved_model.read_bytes())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with ctrl_c_reaches_children():
        process = subprocess.Popen(
            [sys.executable, "-m", "cartpole_dqn", "train", "--seed", "0"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    first_line = process.stdout.readline()  # training has started once an episode is reported
    assert first_line.startswith("episode: 0/1000"), process.stderr.read()
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    summary, models, unsolved, routes, watch = out.strip().splitlines()[-5:]
    assert summary.startswith("training interrupted:") and models.startswith("models:")
    assert unsolved.startswith("not solved: ") and routes.startswith("solved soonest: ")
    assert watch.startswith("watch the best model (cartpole-dqn-best.h5)")
    assert model.read_bytes() == saved_model.read_bytes()
