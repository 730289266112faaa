"""Issue 4, "see it learn": episode log and plots, TensorBoard, GIF, test table, pretrained agent."""

import csv
import glob
import types
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from cartpole_dqn.errors import UserError
from cartpole_dqn.pretrained import PRETRAINED_MODEL
from cartpole_dqn.training import TrainingSettings, summary, train
from cartpole_dqn.training.gif_recorder import recording_env
from cartpole_dqn.training.plots import fraction_solved, moving_average, plot_test_scores, render_loss_formula
from cartpole_dqn.training.run_files import RunFiles
from cartpole_dqn.training.training_log import CSV_COLUMNS
from conftest import seeded_agent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE


class ClosableEnv:
    """Stands in for the agent's environment, which the CLI closes."""

    closed = False

    def close(self):
        self.closed = True


class ScriptedAgent:
    """An agent factory for ``cartpole_dqn.training.train``: plays fixed scores, no TensorFlow."""

    scores_to_play = (12, 30, 25)
    interrupt_after = None  # raise KeyboardInterrupt after this many episodes
    last = None  # the last one made

    def __init__(self, hyperparameters, seed, **options):
        self.episode_hooks, self.scores, self.saved_episodes = [], [], []
        self.epsilon, self.memory = 1.0, []
        self.env = ClosableEnv()
        ScriptedAgent.last = self

    @staticmethod
    def q_values(states):
        """Push the cart toward the side the pole swings: what the evaluation plays."""
        return np.stack([np.zeros(len(states)), states[:, 3]], axis=1)

    def q_values_snapshot(self):
        return self.q_values

    def save(self, path):
        Path(path).write_bytes(b"scripted")

    def run(self):
        for episode, score in enumerate(self.scores_to_play):
            if episode == self.interrupt_after:
                raise KeyboardInterrupt
            self.epsilon *= 0.5
            self.scores.append(score)
            for hook in self.episode_hooks:
                hook(self, episode, score)
        return self.scores


@pytest.fixture
def scripted_train(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    # The stand-in has no network to keep: no checkpoint.
    return lambda **settings: train(TrainingSettings(keep_checkpoint=False, **settings), agent_factory=ScriptedAgent)


def test_train_logs_one_row_per_episode_and_plots_the_scores(scripted_train, tmp_path):
    result = scripted_train(model="models/run.h5")
    assert not result.interrupted and result.scores == [12, 30, 25]
    assert result.plot == Path("models/run-training.png") == result.files.training_plot
    rows = read_csv(tmp_path / "models" / "run-training.csv")
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r["episode"]) for r in rows] == [0, 1, 2]
    assert [int(r["score"]) for r in rows] == [12, 30, 25]
    assert [float(r["epsilon"]) for r in rows] == [0.5, 0.25, 0.125]
    assert [int(r["steps"]) for r in rows] == [12, 42, 67]  # environment steps so far
    times = [float(r["wall_time"]) for r in rows]
    assert times == sorted(times) and times[0] >= 0
    assert is_png(tmp_path / "models" / "run-training.png")
    # The plot's evaluation line comes from here: one screen after every episode.
    assert [int(r["episode"]) for r in read_csv(tmp_path / "models" / "run-evals.csv")] == [0, 1, 2]


def test_the_real_agent_feeds_the_log(tmp_path):
    from cartpole_dqn.hyperparameters import Hyperparameters
    from cartpole_dqn.training.training_log import TrainingLog

    agent = seeded_agent(Hyperparameters(EPISODES=3), seed=0, model_path=tmp_path / "m.h5")
    files = RunFiles.for_model(agent.model_path)
    log = TrainingLog(files.training_log, files.training_plot)
    agent.episode_hooks.append(log)
    agent.run()
    rows = read_csv(log.csv_path)
    assert [int(r["score"]) for r in rows] == agent.scores
    assert [int(r["steps"]) for r in rows] == [sum(agent.scores[: e + 1]) for e in range(3)]
    assert float(rows[-1]["epsilon"]) == pytest.approx(agent.epsilon, rel=1e-5)
    assert is_png(log.write_plot())


def test_interrupted_training_keeps_its_log_and_plot(scripted_train, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ScriptedAgent, "interrupt_after", 2)
    assert scripted_train(log_dir="logs").interrupted
    assert [int(r["score"]) for r in read_csv(tmp_path / "logs" / "cartpole-dqn-training.csv")] == [12, 30]
    assert is_png(tmp_path / "logs" / "cartpole-dqn-training.png")
    assert "training interrupted" in capsys.readouterr().out
    assert ScriptedAgent.last.env.closed  # a window closes on Ctrl-C too


def test_unwritable_log_folder_is_a_one_line_error(scripted_train, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(UserError) as error:
        scripted_train(log_dir="taken")
    assert str(error.value) == (
        "training log taken/cartpole-dqn-training.csv cannot be written: taken is a file, not a folder"
    )
    assert not (tmp_path / "cartpole-dqn-evals.csv").exists()


def test_moving_average_covers_the_first_episodes_too():
    assert moving_average([2, 4, 6, 8], window=2).tolist() == [2, 3, 5, 7]


def test_fraction_solved_counts_each_seed_from_its_episode_on():
    assert fraction_solved([0, 2, None, 2], 4).tolist() == [0.25, 0.25, 0.75, 0.75]
    assert fraction_solved([None, None], 3).tolist() == [0, 0, 0]


def test_loss_formula_renders_to_png(tmp_path):
    assert is_png(render_loss_formula(tmp_path / "math.png"))


@pytest.mark.parametrize(
    "name, signature", [("scores.svg", b"<?xml"), ("scores.pdf", b"%PDF"), ("scores.PNG", PNG_SIGNATURE)]
)
def test_a_plot_takes_its_format_from_its_name(tmp_path, name, signature):
    assert plot_test_scores([500, 20], tmp_path / name).read_bytes().startswith(signature)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # written through a temporary file of the same format


def test_test_summary_table():
    lines = summary.summarize_test([500, 321, 500, 87]).splitlines()
    assert lines[0] == "test: reached 500 in 2/4 episodes, mean score 352.0"
    assert lines[1].split() == ["episodes", "reached", "500", "mean", "min", "max"]
    assert lines[2].split() == ["4", "2", "352.0", "87", "500"]
    assert summary.summarize_test([]).splitlines()[2].split() == ["0", "0", "0.0", "-", "-"]


def test_gif_recorder_keeps_reduced_frames_up_to_its_cap(tmp_path):
    env, recorder = recording_env("none")
    recorder.max_frames = 5
    env.reset(seed=0)
    for _ in range(4):  # frames at reset and at steps 2 and 4
        env.step(0)
    assert len(recorder.frames) == 3
    for _ in range(20):
        env.step(1)
        if len(recorder.frames) == 5:
            break
    env.reset()
    assert len(recorder.frames) == 5
    with Image.open(recorder.save(tmp_path / "play.gif")) as gif:
        assert gif.n_frames == 5 and gif.size == (300, 200)
    env.close()


def test_tensorboard_scalars(tmp_path):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    from cartpole_dqn.training.tensorboard_log import TensorBoardLog

    hook = TensorBoardLog(tmp_path)
    agent = types.SimpleNamespace(epsilon=0.5, memory=[0] * 7)
    hook(agent, 0, 12)
    hook(agent, 1, 40)
    scalars = {}
    for record in tf.data.TFRecordDataset(glob.glob(str(tmp_path / "events.out.tfevents.*"))):
        event = event_pb2.Event.FromString(record.numpy())
        for value in event.summary.value:
            assert value.metadata.plugin_data.plugin_name == "scalars"
            scalars[value.tag, event.step] = float(tf.make_ndarray(value.tensor))
    assert scalars == {
        ("score", 0): 12,
        ("epsilon", 0): 0.5,
        ("memory", 0): 7,
        ("score", 1): 40,
        ("epsilon", 1): 0.5,
        ("memory", 1): 7,
    }


@pytest.mark.slow
def test_cli_test_records_gif_and_plot_without_a_display(cli, tmp_path, saved_model):
    no_display = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "SDL_VIDEODRIVER": ""}
    result = cli(
        "test",
        "--model",
        saved_model,
        "--episodes",
        "2",
        "--seed",
        "0",
        "--render",
        "none",
        "--gif",
        "out/play.gif",
        "--plot",
        "out/scores.png",
        env=no_display,
    )
    assert result.returncode == 0, result.stderr
    assert "episodes  reached 500" in result.stdout
    with Image.open(tmp_path / "out" / "play.gif") as gif:
        assert gif.size == (300, 200) and gif.n_frames >= 2
    assert is_png(tmp_path / "out" / "scores.png")


@pytest.mark.slow
def test_pretrained_model_is_small_and_plays(cli):
    with h5py.File(PRETRAINED_MODEL) as saved:
        assert "optimizer_weights" not in saved
    assert PRETRAINED_MODEL.stat().st_size < 1_000_000
    result = cli("test", "--pretrained", "--episodes", "1", "--seed", "0", "--render", "none")
    assert result.returncode == 0, result.stderr
    assert "test: reached 500 in 1/1 episodes, mean score 500.0" in result.stdout.splitlines()
