"""Shared test setup: headless rendering, a CLI runner, a saved model and agents to test.

Tests never open a real window (SDL's dummy video driver) and never
download anything.
"""

import contextlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd, env=None, timeout=600):
    """Run ``python -m cartpole_dqn ARGS`` in a fresh process; return the CompletedProcess."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cartpole_dqn", *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def refused_before_tensorflow(*args, cwd) -> str:
    """Run ``cli.main(ARGS)`` in a fresh process; assert it exits 2 without importing TensorFlow; return its stderr.

    A fresh process because the pytest process has long since imported TensorFlow.
    """
    code = (
        "import sys\nfrom cartpole_dqn.cli import main\n"
        "assert main(sys.argv[1:]) == 2\nassert 'tensorflow' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@contextlib.contextmanager
def ctrl_c_reaches_children():
    """Children started inside this block handle SIGINT as Python does, even where this process ignores it.

    A background job of a shell script starts with SIGINT ignored, and its
    children inherit that: a test that sends them Ctrl-C would see it ignored.
    """
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, inherited)


@pytest.fixture
def cli(tmp_path):
    """Run the CLI with the test's temporary folder as working directory."""
    return lambda *args, **kwargs: run_cli(*args, cwd=tmp_path, **kwargs)


@pytest.fixture
def cli_error(monkeypatch, tmp_path, capsys):
    """Run ``cartpole-dqn ARGS`` in this process, in the test's folder, where it must be refused: check exit code 2
    and one ``cartpole-dqn: error:`` line on stderr, and return that line.

    A bad flag needs no fresh process to show its message.  Unless ``before_tensorflow`` is False (a model file to
    load), the command must be refused before it loads TensorFlow: one that went on would fail here, not train.
    """
    monkeypatch.chdir(tmp_path)

    def refused(*args, before_tensorflow=True):
        from cartpole_dqn import cli, process

        if before_tensorflow:

            def must_not_load():
                raise AssertionError(f"cartpole-dqn {' '.join(map(str, args))} went on to load TensorFlow")

            monkeypatch.setattr(process, "import_tensorflow_quietly", must_not_load)
        try:
            code = cli.main([str(arg) for arg in args])
        except SystemExit as exit_info:  # argparse's own refusals
            code = exit_info.code
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cartpole-dqn: error: "), err
        return lines[0]

    return refused


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    """An untrained model saved by DQNAgent.save, as the CLI would save it."""
    from cartpole_dqn.agent import DQNAgent

    path = tmp_path_factory.mktemp("model") / "cartpole-dqn.h5"
    DQNAgent(seed=0).save(path)
    return path


def seeded_agent(hyperparameters=None, seed=0, agent_class=None, **options):
    """A DQNAgent (or ``agent_class``, a subclass) made as the command line makes one: in a process seeded with
    ``seed``."""
    from cartpole_dqn.agent import DQNAgent
    from cartpole_dqn.hyperparameters import DEFAULTS
    from cartpole_dqn.process import prepare_process

    prepare_process(seed)
    return (agent_class or DQNAgent)(hyperparameters or DEFAULTS, seed=seed, **options)


def trained(evaluator=None, seed=3):
    """A seeded agent after a short run (3 episodes, minibatches of 16), with ``evaluator`` as its episode hook."""
    from cartpole_dqn.hyperparameters import DEFAULTS

    agent = seeded_agent(DEFAULTS.replace(EPISODES=3, batch_size=16), seed=seed)
    if evaluator is not None:
        agent.episode_hooks.append(evaluator)
    agent.run()
    return agent


def fill_memory(agent, steps=300):
    """Random play into the agent's memory: the reward and done that run() stores, by the agent's own rules."""
    state, _ = agent.env.reset(seed=7)
    state = state.reshape(1, -1)
    for _ in range(steps):
        action = random.randrange(agent.action_size)
        next_state, reward, terminated, truncated, _ = agent.env.step(action)
        next_state = next_state.reshape(1, -1)
        stored_reward = agent.reward_to_store(reward, terminated, truncated)
        agent.remember(state, action, stored_reward, next_state, agent.done_to_store(terminated, truncated))
        state = agent.env.reset()[0].reshape(1, -1) if terminated or truncated else next_state
