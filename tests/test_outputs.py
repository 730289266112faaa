"""Every output is checked before the work starts, written whole or not at all, and put where asked."""

import os
import stat

import gymnasium as gym
import pytest

from cartpole_dqn import cli
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS
from cartpole_dqn.output_files import write_csv, written_atomically
from cartpole_dqn.training import TrainingSettings, train
from cartpole_dqn.training.playing import play
from conftest import refused_before_tensorflow

NO_FOLDER = "/proc/no-such-folder"  # cannot be created, even by root


def must_not_run(*args, **kwargs):
    """An agent factory that fails the test if the command gets as far as making an agent."""
    raise AssertionError("an agent was made although an output cannot be written")


@pytest.fixture
def refused(monkeypatch, tmp_path):
    """Do the work of ``cartpole-dqn train|test ARGS`` with an agent factory that must not be called;
    return the one-line error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file, not a folder")
    (tmp_path / "afolder").mkdir()

    def run(command, *args):
        parsed = cli.build_parser().parse_args([command, *args])
        with pytest.raises(UserError) as error:
            if command == "train":
                train(cli.training_settings(parsed), agent_factory=must_not_run)
            else:
                play(
                    parsed.model,
                    DEFAULTS,
                    render=parsed.render,
                    gif=parsed.gif,
                    plot=parsed.plot,
                    agent_factory=must_not_run,
                )
        assert "\n" not in str(error.value)
        return f"cartpole-dqn: error: {error.value}"

    return run


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "run.pt"], "--model run.pt: Keras saves models only to names ending in .keras, .h5, .hdf5"),
        (["--model", "run.H5"], "--model run.H5: Keras saves models only to names ending in"),
        (["--model", "afolder"], "--model afolder: Keras saves models only"),
        (["--model", "afile/run.h5"], "--model afile/run.h5 cannot be written: afile is a file, not a folder"),
        (["--model", "runs/new/x.keras"], None),  # the control: folders to make, a name Keras saves to
        (["--model", f"{NO_FOLDER}/run.h5"], f"--model {NO_FOLDER}/run.h5 cannot be written (No such file"),
        (["--best-model", "best.txt"], "--best-model best.txt: Keras saves models only"),
        (["--best-model", "afile/best.keras"], "--best-model afile/best.keras cannot be written: afile is a file"),
        (["--log-dir", "afile"], "training log afile/cartpole-dqn-training.csv cannot be written: afile is a file"),
        (["--log-dir", NO_FOLDER], f"training log {NO_FOLDER}/cartpole-dqn-training.csv cannot be written"),
        (["--tensorboard", "afile"], "--tensorboard afile is a file; it must name a folder"),
        (["--tensorboard", f"{NO_FOLDER}/tb"], f"--tensorboard {NO_FOLDER}/tb cannot be written"),
    ],
)
def test_train_refuses_an_output_it_could_not_write_before_making_the_agent(refused, tmp_path, args, message):
    if message is None:
        with pytest.raises(AssertionError, match="an agent was made"):
            train(cli.training_settings(cli.build_parser().parse_args(["train", *args])), agent_factory=must_not_run)
        return
    line = refused("train", *args)
    assert line.startswith(f"cartpole-dqn: error: {message}"), line


def test_a_model_folder_named_like_a_model_is_refused(refused, tmp_path):
    (tmp_path / "taken.h5").mkdir()
    assert (
        refused("train", "--model", "taken.h5")
        == "cartpole-dqn: error: --model taken.h5 is a folder; it must name a file"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--gif", "afile/play.gif"], "--gif afile/play.gif cannot be written: afile is a file, not a folder"),
        (["--plot", "afolder"], "--plot afolder is a folder; it must name a file"),
        (["--plot", f"{NO_FOLDER}/p.png"], f"--plot {NO_FOLDER}/p.png cannot be written"),
        (["--plot", "out.txt"], "--plot out.txt: matplotlib writes plots only to names ending in "),
        (["--plot", "scores"], "--plot scores: matplotlib writes plots only to names ending in"),
    ],
)
def test_test_refuses_an_output_it_could_not_write_before_playing(refused, saved_model, args, message):
    line = refused("test", "--model", str(saved_model), "--render", "none", *args)
    assert line.startswith(f"cartpole-dqn: error: {message}"), line
    if "matplotlib" in message:
        assert all(f" .{suffix}," in line for suffix in ("pdf", "png", "svg"))


def test_an_atomic_write_replaces_the_file_whole_or_leaves_it(tmp_path):
    target = tmp_path / "log.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with written_atomically(target) as partial:
            partial.write_text("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["log.csv"]  # no temporary file left
    write_csv(target, ["a", "b"], [(1, 2)])
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"  # the csv module's own line ends, as before
    assert os.listdir(tmp_path) == ["log.csv"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask  # as a plain open() would make it


def test_two_writers_of_one_file_get_their_own_temporary_names(tmp_path):
    target = tmp_path / "cartpole-dqn.h5"
    with written_atomically(target) as first, written_atomically(target) as second:
        assert first != second
        assert first.parent == second.parent == tmp_path
        assert first.suffix == second.suffix == ".h5"  # Keras picks the format by it
        first.write_text("first")
        second.write_text("second")
    assert target.read_text() == "first"  # the outer block ends last


def test_a_failed_atomic_write_is_one_line_error(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(UserError, match=r"^cannot write .*afile/x\.csv \("):
        write_csv(tmp_path / "afile" / "x.csv", ["a"], [])


def test_save_model_writes_through_a_unique_temporary_file(tmp_path, monkeypatch):
    from cartpole_dqn.model import save_model

    seen = []

    class Model:
        def save(self, path):
            seen.append(path)
            path.write_bytes(b"model")

    save_model(Model(), tmp_path / "m.keras")
    save_model(Model(), tmp_path / "m.keras")
    assert seen[0] != seen[1] and all(p.parent == tmp_path and p.suffix == ".keras" for p in seen)
    assert os.listdir(tmp_path) == ["m.keras"]


@pytest.mark.slow
def test_with_log_dir_every_log_goes_there_and_nothing_empty_is_left(cli, tmp_path):
    result = cli(
        "train",
        "--episodes",
        2,
        "--seed",
        1,
        "--eval-episodes",
        2,
        "--eval-every",
        2,
        "--log-dir",
        "logs",
        "--model",
        "models/m.h5",
        "--tensorboard",
        "tb",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "logs")) == ["m-evals.csv", "m-training.csv", "m-training.png"]
    assert sorted(os.listdir(tmp_path / "models")) == ["m-best.h5", "m.ckpt"]  # no log beside the model
    assert len((tmp_path / "logs" / "m-evals.csv").read_text().splitlines()) == 2  # header and one evaluation


def test_a_run_that_logs_nothing_leaves_no_log_files(monkeypatch, tmp_path, capsys):
    class StoppedAtOnce:
        def __init__(self, *args, **kwargs):
            self.episode_hooks, self.scores, self.saved_episodes = [], [], []
            self.env = gym.make("CartPole-v1")

        def run(self):
            raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    result = train(TrainingSettings(log_dir="logs", tensorboard="tb"), agent_factory=StoppedAtOnce)
    assert result.interrupted and result.plot is None and result.checkpoints == 0
    assert "no episode finished, no log written" in capsys.readouterr().out
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["test", "--pretrained", "--plot", "scores.txt"], "--plot scores.txt: matplotlib writes plots only to names "),
        (["bench", "learning", "--plot", "out.txt"], "--plot out.txt: matplotlib writes plots only to names "),
    ],
)
def test_a_plot_name_matplotlib_cannot_write_is_refused_before_tensorflow_loads(tmp_path, args, message):
    stderr = refused_before_tensorflow(*args, cwd=tmp_path)
    assert stderr.startswith(f"cartpole-dqn: error: {message}") and stderr.count("\n") == 1
    assert os.listdir(tmp_path) == []
