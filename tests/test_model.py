"""OurModel is the tutorial's network, and saved models come back able to predict and train."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from cartpole_dqn import model as model_io
from cartpole_dqn.dueling import DuelingHead
from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import PRESETS
from cartpole_dqn.model import OurModel
from conftest import seeded_agent


def test_our_model_is_the_tutorials_network():
    model = OurModel(input_shape=(4,), action_space=np.int64(2))  # gymnasium gives numpy ints
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    dropout = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.units for layer in dense] == [512, 256, 64, 2]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "relu", "linear"]
    assert [layer.rate for layer in dropout] == [0.5, 0.5, 0.5]
    # each hidden Dense is followed by its Dropout
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Dense", "Dropout"] * 3 + ["Dense"]
    assert isinstance(model.loss, keras.losses.MeanSquaredError)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)


@pytest.mark.parametrize(
    "preset, dueling",
    [("tutorial", "off"), ("dqn-script", "off"), ("dueling-ddqn", "batch-mean"), ("dueling-ddqn", "state-mean")],
)  # with Dropout, without, and ending in either dueling head
def test_numpy_snapshot_gives_the_networks_q_values_and_greedy_actions(preset, dueling):
    # Seeded: an unseeded network may prefer one action everywhere.
    model = seeded_agent(PRESETS[preset].replace(dueling=dueling)).model
    states = np.random.default_rng(0).normal(scale=[1.0, 1.5, 0.1, 1.5], size=(2000, 4)).astype(np.float32)
    snapshot = model_io.q_values_in_numpy(model)
    expected = model(states, training=False).numpy()
    np.testing.assert_allclose(snapshot(states), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.argmax(snapshot(states), axis=1), np.argmax(expected, axis=1))
    assert len(set(np.argmax(expected, axis=1))) == 2  # both actions occur: a constant answer would show
    model.set_weights([weight * 2 for weight in model.get_weights()])
    # A snapshot: later changes to the weights do not reach it.
    np.testing.assert_allclose(snapshot(states), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("preset", ["tutorial", "per-d3qn", "per-d3qn-pixels"])  # plain, dueling, convolutions
def test_bfloat16_makes_the_layers_before_the_output_compute_in_bfloat16(preset):
    hyperparameters = PRESETS[preset]
    shape = (160, 240, 4) if hyperparameters.observation == "pixels" else (4,)
    default, bfloat16 = (OurModel(shape, 2, hyperparameters.replace(bfloat16=on)) for on in (False, True))
    assert {layer.compute_dtype for layer in default.layers} == {"float32"}  # the default path is untouched
    hidden, output = _hidden_and_output_layers(bfloat16)
    assert {layer.compute_dtype for layer in hidden if layer.weights} == {"bfloat16"}  # Dense and Conv2D
    assert {layer.compute_dtype for layer in hidden if isinstance(layer, keras.layers.Dropout)} <= {"float32"}
    assert {layer.compute_dtype for layer in output} == {"float32"}
    assert {weight.dtype for weight in bfloat16.weights} == {"float32"}
    assert bfloat16(np.zeros((3, *shape), np.float32)).dtype == "float32"  # Q-values, targets and losses


def _hidden_and_output_layers(model):
    """The layers after the input up to the output layers (the linear Dense layers and the dueling head), and those."""
    is_output = [
        isinstance(layer, DuelingHead) or getattr(layer, "activation", None) is keras.activations.linear
        for layer in model.layers[1:]
    ]
    first_output = is_output.index(True) + 1
    assert all(is_output[first_output - 1 :])
    return model.layers[1:first_output], model.layers[first_output:]


@pytest.mark.slow
def test_a_bfloat16_run_trains_saves_and_plays(cli, tmp_path):
    trained = cli(
        "train", "--bfloat16", "--episodes", "2", "--seed", "3", "--render", "none", "--confirm-episodes", "1",
        "--eval-episodes", "1", "--proof-episodes", "0",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith("episode: 0/2, score: ")
    best = cli("test", "--best", "--episodes", "1", "--render", "none")
    assert best.returncode == 0, best.stderr
    assert "test: reached 500 in" in best.stdout
    loaded = model_io.load_model(tmp_path / "cartpole-dqn-best.h5", 4, 2)
    assert {layer.compute_dtype for layer in _hidden_and_output_layers(loaded)[0] if layer.weights} == {"bfloat16"}


def test_numpy_snapshot_declines_a_network_that_is_no_relu_dense_stack():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(8, activation="tanh")(inputs)))
    assert model_io.q_values_in_numpy(model) is None


@pytest.mark.slow
def test_saved_model_loads_in_a_fresh_process_predicts_and_trains(saved_model):
    script = textwrap.dedent(f"""
        import numpy as np, keras
        from cartpole_dqn.agent import DQNAgent
        path = {str(saved_model)!r}
        plain = keras.models.load_model(path)  # the tutorial's own load
        assert plain.predict(np.zeros((1, 4)), verbose=0).shape == (1, 2)
        agent = DQNAgent(seed=1)
        agent.load(path)
        before = [w.copy() for w in agent.model.get_weights()]
        state = np.zeros((1, 4), dtype=np.float32)
        for _ in range(8):
            agent.remember(state, 0, 1.0, state + 0.1, False)
        agent.replay()
        after = agent.model.get_weights()
        assert any(not np.allclose(a, b) for a, b in zip(before, after)), "replay did not train"
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_interrupted_save_keeps_the_previous_model(tmp_path, monkeypatch):
    path = tmp_path / "cartpole-dqn.h5"
    model = OurModel((4,), 2)
    model_io.save_model(model, path)
    good = path.read_bytes()

    def interrupted_save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as partial:
            partial.write(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        model_io.save_model(model, path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left behind


def test_missing_model_names_the_path_and_the_command(tmp_path):
    with pytest.raises(UserError, match=r"no model file at .*nothing\.h5.*cartpole_dqn train"):
        model_io.load_model(tmp_path / "nothing.h5", 4, 2)


def test_file_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"this is not HDF5")
    with pytest.raises(UserError, match="not a readable Keras model"):
        model_io.load_model(path, 4, 2)


def test_model_of_the_wrong_shape_is_refused(tmp_path):
    path = tmp_path / "other.h5"
    model_io.save_model(OurModel((3,), 5), path)
    with pytest.raises(UserError, match=r"input \(None, 3\) and output \(None, 5\).*needs input \(None, 4\)"):
        model_io.load_model(path, 4, 2)
