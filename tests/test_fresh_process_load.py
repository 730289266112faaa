"""A saved model loads in a fresh Python process, predicts as it did, and trains.

Loading in the process that saved would hide anything Keras kept in memory
(compiled state, registered names), so the load runs in a new interpreter.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from cartpole_dqn.agent import DQNAgent

REPO = Path(__file__).resolve().parent.parent
MODEL_FILES = ["model.h5", "model.keras"]  # the tutorial's format and Keras 3's own

LOAD_PREDICT_TRAIN = """
import sys
import numpy as np
from cartpole_dqn.agent import DQNAgent

states_path, expected_path, *model_paths = sys.argv[1:]
states, expected = np.load(states_path), np.load(expected_path)
for model_path in model_paths:
    agent = DQNAgent(seed=1)
    agent.load(model_path)
    np.testing.assert_allclose(agent.model.predict(states, verbose=0), expected, rtol=1e-5, atol=1e-6)
    for state, next_state in zip(states[:-1], states[1:]):
        agent.remember(state[None], 1, 1.0, next_state[None], False)
    agent.replay()  # the package's compiled gradient step
    after_replay = agent.model.predict(states, verbose=0)
    agent.model.fit(states, expected, verbose=0)  # and Keras's own fit, as the tutorial trains
    after_fit = agent.model.predict(states, verbose=0)
    assert not np.allclose(after_replay, expected) and not np.allclose(after_fit, after_replay)
    print(model_path, "loaded, predicted and trained")
"""


def test_saved_models_load_predict_and_train_in_a_fresh_process(tmp_path):
    states = np.random.default_rng(0).uniform(-1, 1, (6, 4)).astype(np.float32)
    agent = DQNAgent(seed=3)
    for name in MODEL_FILES:
        agent.save(tmp_path / name)
    np.save(tmp_path / "states.npy", states)
    np.save(tmp_path / "expected.npy", agent.model(states, training=False).numpy())
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PREDICT_TRAIN, "states.npy", "expected.npy", *MODEL_FILES],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [f"{name} loaded, predicted and trained" for name in MODEL_FILES]
