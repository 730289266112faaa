"""Checkpoints: a killed run resumes exactly where it stopped; a checkpoint holds all training needs."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace

import keras
import numpy as np
import pytest

from cartpole_dqn.agent import DQNAgent
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS, PRESETS
from cartpole_dqn.training import TrainingSettings, checkpoint, train
from cartpole_dqn.training.evaluation_record import EvaluationRecord
from conftest import REPO, refused_before_tensorflow, seeded_agent

EPISODES = 20
# Evaluation every 4 episodes, so that its best mean and records must resume too.
TRAIN = [
    "train",
    "--seed",
    "7",
    "--episodes",
    str(EPISODES),
    "--checkpoint-every",
    "0",
    "--eval-every",
    "4",
    "--eval-episodes",
    "2",
    "--render",
    "none",
]


def start(tmp_path, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "cartpole_dqn", *TRAIN, *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after(process, episode_lines):
    """SIGKILL ``process`` right after it printed that many episode lines (mid-way through its episode hooks)."""
    seen = 0
    while seen < episode_lines:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        seen += line.startswith("episode:")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def episode_lines(text):
    return [line for line in text.splitlines() if line.startswith(("episode:", "eval:"))]


def finish(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


@pytest.mark.slow
def test_a_run_killed_twice_and_resumed_prints_and_ends_as_the_uninterrupted_run(tmp_path):
    whole = start(tmp_path, "--model", "whole.h5")
    # The second run is killed right after an episode line (while it evaluates, logs and checkpoints)...
    kill_after(start(tmp_path, "--model", "killed.h5"), 7)
    expected = finish(whole)
    first = episode_lines(expected)

    # ...resumed, and killed again, this time at a moment unrelated to episode ends.
    resumed = start(tmp_path, "--model", "killed.h5", "--resume")
    assert resumed.stdout.readline().startswith("resumed from killed.ckpt after episode ")
    assert resumed.stdout.readline().startswith("episode: ")
    time.sleep(0.3)
    resumed.send_signal(signal.SIGKILL)
    resumed.communicate(timeout=60)

    out = finish(start(tmp_path, "--model", "killed.h5", "--resume"))
    head, *rest = out.splitlines()
    done = int(head.split("after episode ")[1].split(":")[0]) + 1
    assert 0 < done < EPISODES
    resumed_lines = episode_lines("\n".join(rest))
    assert resumed_lines[0].startswith(f"episode: {done}/{EPISODES}, ")
    assert resumed_lines == first[first.index(resumed_lines[0]) :]
    assert out.splitlines()[-1] == expected.splitlines()[-1].replace("whole", "killed")  # the models line

    whole_ckpt, killed_ckpt = (checkpoint.read(tmp_path / name) for name in ("whole.ckpt", "killed.ckpt"))
    for name, array in whole_ckpt[1].items():  # weights, Adam's moments and step, the memory, NumPy's keys
        np.testing.assert_array_equal(killed_ckpt[1][name], array, err_msg=name)
    assert killed_ckpt[0]["epsilon"] == whole_ckpt[0]["epsilon"]
    assert killed_ckpt[0]["hooks"]["evaluation"] == whole_ckpt[0]["hooks"]["evaluation"]
    rows = (tmp_path / "killed-training.csv").read_text().splitlines()
    assert [row.split(",")[:4] for row in rows] == [
        row.split(",")[:4] for row in (tmp_path / "whole-training.csv").read_text().splitlines()
    ]


def test_resume_refuses_a_checkpoint_of_another_recipe_before_loading_tensorflow(tmp_path):
    agent = DQNAgent(DEFAULTS.replace(EPISODES=1), seed=7)
    agent.run()
    checkpoint.save(agent, tmp_path / "cartpole-dqn.ckpt")

    def refused(*args):
        return refused_before_tensorflow(*args, cwd=tmp_path)

    assert refused("train", "--resume", "--seed", "7", "--gamma", "0.99", "--batch-size", "64") == (
        "cartpole-dqn: error: cartpole-dqn.ckpt was written by a run with --gamma 0.95 (asked: 0.99), "
        "--batch-size 128 (asked: 64); resume with the same settings, or train without --resume\n"
    )
    assert refused("train", "--resume") == (
        "cartpole-dqn: error: cartpole-dqn.ckpt was written by a run with --seed 7 (asked: none); "
        "resume with the same settings, or train without --resume\n"
    )
    assert refused("train", "--resume", "other.ckpt") == (
        "cartpole-dqn: error: no checkpoint at other.ckpt to resume from; train without --resume to start one\n"
    )


def test_a_checkpoint_from_before_an_option_existed_had_its_default():
    asked = PRESETS["ddqn-quick"]
    older = {"recipe": checkpoint.recipe(DEFAULTS, 7)}
    del older["recipe"]["replay_every"]  # written before --replay-every existed
    checkpoint.check_recipe(older, DEFAULTS, 7, "old.ckpt")  # that run replayed after every step: the default
    with pytest.raises(UserError, match=r"--replay-every 1 \(asked: 4\)"):
        checkpoint.check_recipe(older, asked, 7, "old.ckpt")


def test_loading_a_checkpoint_restores_the_optimizer_and_all_training_state(tmp_path):
    path = tmp_path / "run.ckpt"
    hyperparameters = DEFAULTS.replace(EPISODES=3, batch_size=16)
    agent = DQNAgent(hyperparameters, seed=3)
    agent.run()
    checkpoint.save(agent, path)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    agent.EPISODES, agent.resume_episode = 5, 3  # the same agent goes on: what a reloaded one must do
    expected = agent.run()[3:]

    random.seed(0)
    np.random.seed(0)  # the reloaded agent's streams come from the file, not from here
    reloaded = DQNAgent(hyperparameters.replace(EPISODES=5), seed=3)
    checkpoint.restore(reloaded, path)
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert int(reloaded.model.optimizer.iterations.numpy()) == sum(agent.scores[:3]) - 3  # one replay per step
    assert reloaded.run()[3:] == expected
    for ours, theirs in zip(
        reloaded.model.variables + reloaded.model.optimizer.variables,
        agent.model.variables + agent.model.optimizer.variables,
        strict=True,
    ):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_the_dropout_seed_generators_are_in_the_checkpoint():
    agent = DQNAgent(DEFAULTS, seed=0)
    seeds = [v for v in agent.model.variables if "seed_generator" in v.path]
    assert len(seeds) == 3  # one per Dropout layer, saved with the model's variables


def test_a_plain_model_file_stays_a_plain_keras_file(tmp_path):
    agent = DQNAgent(DEFAULTS.replace(EPISODES=1), seed=0)
    agent.save(tmp_path / "cartpole-dqn.h5")
    assert keras.models.load_model(tmp_path / "cartpole-dqn.h5").output_shape == (None, 2)


def test_a_broken_checkpoint_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UserError, match=r"bad\.ckpt is not a readable checkpoint"):
        checkpoint.read(path)


def test_the_checkpointer_writes_at_its_interval_at_the_end_and_after_a_saved_model(tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr(checkpoint, "save", lambda agent, path, hooks: written.append(len(agent.scores)))

    class Agent:
        EPISODES, scores, saved_episodes = 10, [], []

    hook = checkpoint.Checkpointer(tmp_path / "c.ckpt", interval=3600)
    for episode in range(10):
        Agent.scores = list(range(episode + 1))
        Agent.saved_episodes = [4] if episode >= 4 else []
        hook(Agent, episode, 10)
    assert written == [1, 5, 10]  # after the first episode, the saved model (episode 4) and the last episode


def test_test_refuses_a_checkpoint_in_one_line(tmp_path, monkeypatch, capsys):
    from cartpole_dqn import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["test", "--model", "run.ckpt", "--render", "none"]) == cli.EXIT_USER_ERROR
    assert capsys.readouterr().err == (
        "cartpole-dqn: error: run.ckpt is a training checkpoint, for train --resume; "
        "test plays a model file (.h5, .keras)\n"
    )


def test_a_checkpoint_keeps_the_target_network_and_its_update_count(tmp_path):
    hyperparameters = PRESETS["ddqn"].replace(
        EPISODES=2, train_start=0, batch_size=8, target_update_every=7, target_update_unit="replays"
    )
    agent = seeded_agent(hyperparameters, seed=0)  # a seeded process: the episodes' lengths decide the count
    agent.run()
    assert agent.since_target_update != 0  # mid-way between two updates
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(agent.model.get_weights(), agent.target_model.get_weights(), strict=True)
    )
    checkpoint.save(agent, tmp_path / "ddqn.ckpt")
    reloaded = DQNAgent(hyperparameters, seed=0)
    checkpoint.restore(reloaded, tmp_path / "ddqn.ckpt")
    assert reloaded.since_target_update == agent.since_target_update
    for ours, theirs in zip(reloaded.target_model.get_weights(), agent.target_model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
def test_an_unseeded_run_keeps_a_checkpoint_and_resumes_from_it(cli, tmp_path):
    first = cli("train", "--episodes", 2, "--eval-episodes", 0, "--checkpoint-every", 0)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "cartpole-dqn.ckpt").is_file()
    resumed = cli("train", "--episodes", 3, "--eval-episodes", 0, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0].startswith("resumed from cartpole-dqn.ckpt after episode 1:")
    assert [line.split(",")[0] for line in resumed.stdout.splitlines() if line.startswith("episode:")] == [
        "episode: 2/3"
    ]
    meta, _ = checkpoint.read(tmp_path / "cartpole-dqn.ckpt")
    assert set(meta["hooks"]) == {"training_log"}  # a stable name, not a class name


@pytest.mark.slow
def test_a_run_killed_after_its_first_episode_resumes_though_no_interval_passed(tmp_path):
    run = ["train", "--seed", "3", "--eval-episodes", "0", "--render", "none"]  # checkpoints every 60 s
    killed = subprocess.Popen(
        [sys.executable, "-m", "cartpole_dqn", *run, "--episodes", "1000"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    kill_after(killed, 2)  # the first episode's hooks are done once the second episode's line is out
    resumed = finish(
        subprocess.Popen(
            [sys.executable, "-m", "cartpole_dqn", *run, "--episodes", "3", "--resume"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    lines = resumed.splitlines()
    assert lines[0].startswith("resumed from cartpole-dqn.ckpt after episode 0:")
    assert [line.split(",")[0] for line in lines[1:3]] == ["episode: 1/3", "episode: 2/3"]


def test_a_checkpoint_of_an_older_format_is_refused_in_one_line(tmp_path):
    path = tmp_path / "old.ckpt"
    with open(path, "wb") as file:  # a name without .npz: given a file, savez adds none
        np.savez(file, meta=np.array(json.dumps({"format": 1, "hooks": {"Evaluator": {}}})))
    with pytest.raises(UserError) as error:
        checkpoint.read(path)
    assert str(error.value) == (
        f"{path} is a checkpoint of another version of cartpole-dqn (format 1, this one "
        "reads 3); resume it with that version, or train without --resume"
    )


def as_format_2(path, older):
    """Rewrite the checkpoint at ``path`` as format 2 stored it: each hook's records as lists, by position."""
    meta, arrays = checkpoint.read(path)
    evaluation, log = meta["hooks"]["evaluation"], meta["hooks"]["training_log"]
    evaluation["records"] = [list(record.values())[: 9 if older else None] for record in evaluation["records"]]
    log["rows"] = [list(row.values()) for row in log["rows"]]
    with open(path, "wb") as file:
        np.savez(file, meta=np.array(json.dumps({**meta, "format": 2})), **arrays)


@pytest.mark.parametrize("older", [False, True], ids=["format 2", "format 2 before screens were cut"])
def test_a_format_2_checkpoint_resumes_with_its_records_read_by_field_name(tmp_path, older):
    settings = TrainingSettings(
        DEFAULTS.replace(EPISODES=3, batch_size=16), seed=4, model=tmp_path / "run.h5", eval_episodes=2
    )
    train(settings, out=lambda line: None)
    written = checkpoint.read(tmp_path / "run.ckpt")[0]
    assert written["format"] == 3 and written["hooks"]["evaluation"]["records"][0]["episode"] == 0
    as_format_2(tmp_path / "run.ckpt", older)

    converted = checkpoint.read(tmp_path / "run.ckpt")[0]
    expected = written["hooks"]
    if older:  # its records had no field for how many screen episodes finished: they all did
        expected["evaluation"]["records"] = [{**r, "finished": None} for r in expected["evaluation"]["records"]]
    assert converted["format"] == 3 and converted["hooks"] == expected
    longer = replace(settings, hyperparameters=settings.hyperparameters.replace(EPISODES=4), resume=True)
    resumed = train(longer, out=lambda line: None)
    assert [r.episode for r in resumed.evaluations] == [0, 1, 2, 3]
    assert resumed.evaluations[:3] == [EvaluationRecord(**r) for r in expected["evaluation"]["records"]]
    assert len(resumed.scores) == 4


def test_training_draws_from_no_random_stream_the_checkpoint_leaves_out():
    """TensorFlow's op seeds and global generator, Keras's global seed generator, the action space's generator.

    What a seeded process draws from them after making an agent is the same
    whether the agent trained or not in between, so a resumed run needs none
    of them (the Dropout layers draw from their own seed generators, model
    variables in the checkpoint).
    """
    import tensorflow as tf

    def draws_after(training):
        agent = seeded_agent(DEFAULTS.replace(EPISODES=3, batch_size=16), seed=7)
        tf.random.set_global_generator(tf.random.Generator.from_seed(1))
        agent.env.action_space.seed(1)
        keras.random.uniform([1])  # makes Keras's global generator (seeded from Python's stream), which no one had
        if training:
            agent.run()
        return [
            tf.random.uniform([4]).numpy().tolist(),
            tf.random.get_global_generator().normal([4]).numpy().tolist(),
            keras.random.uniform([4]).numpy().tolist(),
            [agent.env.action_space.sample() for _ in range(8)],
        ]

    untrained = draws_after(False)
    assert draws_after(True) == untrained
    assert draws_after(False) == untrained  # the control: the draws repeat in a process seeded again
