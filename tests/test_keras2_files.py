"""Model files saved by Keras 2, like the tutorial author's cartpole-dqn.h5, play and train.

The tests make their own Keras 2.2.4 file: a model saved by our code, then
rewritten the way Keras 2.2.4 laid out an .h5 (root attributes, a Keras 2
model config named "CartPole model", Adam's old ``lr`` key, loss "mse",
weights under Keras 2 names).  Nothing is downloaded.
"""

import json
import zipfile

import h5py
import keras
import numpy as np
import pytest

from cartpole_dqn.errors import UserError
from cartpole_dqn.model import OurModel, load_model, save_model
from cartpole_dqn.tutorial_reference import tutorial_replay
from conftest import seeded_agent

KERAS2_TRAINING_CONFIG = {
    "optimizer_config": {
        "class_name": "Adam",
        "config": {
            "lr": 0.0010000000474974513,
            "beta_1": 0.8999999761581421,
            "beta_2": 0.9990000128746033,
            "decay": 0.0,
            "epsilon": 1e-07,
            "amsgrad": False,
        },
    },
    "loss": "mse",
    "metrics": [],
    "sample_weight_mode": None,
    "loss_weights": None,
}
STATES = np.random.default_rng(0).uniform(-1, 1, (5, 4)).astype(np.float32)


def _keras2_layer(layer, name, inbound):
    """One layer as Keras 2.2.4's model_config spelled it."""
    if isinstance(layer, keras.layers.InputLayer):
        config = {"batch_input_shape": list(layer.batch_shape), "dtype": "float32", "sparse": False}
    elif isinstance(layer, keras.layers.Dense):
        config = {
            "trainable": True,
            "units": layer.units,
            "activation": layer.activation.__name__,
            "use_bias": True,
            "kernel_initializer": {
                "class_name": "VarianceScaling",
                "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
            },
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        }
    else:
        config = {"trainable": True, "rate": layer.rate, "noise_shape": None, "seed": None}
    return {
        "name": name,
        "class_name": type(layer).__name__,
        "config": {"name": name, **config},
        "inbound_nodes": [[[inbound, 0, 0, {}]]] if inbound else [],
    }


def write_keras2_file(model, path):
    """Save a sequential-shaped functional ``model`` with our code, then make the file Keras 2.2.4's."""
    save_model(model, path)
    counts, names, layers = {}, [], []
    for layer in model.layers:
        kind = {"InputLayer": "input", "Dense": "dense", "Dropout": "dropout"}[type(layer).__name__]
        counts[kind] = counts.get(kind, 0) + 1
        names.append(f"{kind}_{counts[kind]}")  # Keras 2 numbered layers from 1
        layers.append(_keras2_layer(layer, names[-1], names[-2] if len(names) > 1 else None))
    model_config = {
        "class_name": "Model",
        "config": {
            "name": "CartPole model",
            "layers": layers,
            "input_layers": [[names[0], 0, 0]],
            "output_layers": [[names[-1], 0, 0]],
        },
    }
    with h5py.File(path, "r+") as f:
        for key, value in {
            "keras_version": "2.2.4",
            "backend": "tensorflow",
            "model_config": json.dumps(model_config),
            "training_config": json.dumps(KERAS2_TRAINING_CONFIG),
        }.items():
            f.attrs[key] = value.encode()  # Keras 2 wrote bytes
        # Keras 2's optimizer weights are ignored by a load without compiling: leave them out.
        for group in ("model_weights", "optimizer_weights"):
            f.pop(group, None)
        weights = f.create_group("model_weights")
        weights.attrs.update(
            {"layer_names": [n.encode() for n in names], "backend": b"tensorflow", "keras_version": b"2.2.4"}
        )
        for layer, name in zip(model.layers, names, strict=True):
            group = weights.create_group(name)
            variables = {f"{name}/{v.name}:0": v.numpy() for v in layer.weights}
            group.attrs["weight_names"] = [k.encode() for k in variables]
            for key, value in variables.items():
                group[key] = value


@pytest.fixture(scope="module")
def keras2_file(tmp_path_factory):
    """(path, the source model) of a tutorial network saved as Keras 2.2.4 saved it."""
    keras.utils.set_random_seed(0)
    model = OurModel(input_shape=(4,), action_space=2)
    path = tmp_path_factory.mktemp("keras2") / "cartpole-dqn.h5"
    write_keras2_file(model, path)
    return path, model


def test_plain_keras_load_model_fails_on_keras2_file(keras2_file):
    # Documents why loading must skip the training config.
    with pytest.raises(ValueError, match="lr"):
        keras.models.load_model(keras2_file[0])


def test_keras2_file_loads_predicts_and_says_so_in_one_line(keras2_file, capsys):
    path, source = keras2_file
    model = load_model(path, state_size=4, action_size=2)
    assert capsys.readouterr().out.splitlines() == [
        f"note: {path} was saved by Keras 2.2.4; loaded its network and weights "
        "without its training config (optimizer, loss)"
    ]
    assert model.get_layer("dense_1").kernel.shape == (4, 512)  # it is the Keras 2 network
    np.testing.assert_allclose(model.predict(STATES, verbose=0), source(STATES, training=False), rtol=1e-5)


def test_agent_load_of_keras2_file_trains_with_the_agents_optimizer(keras2_file):
    agent = seeded_agent(seed=0)
    agent.load(keras2_file[0])
    assert isinstance(agent.model.optimizer, keras.optimizers.Adam)
    assert float(agent.model.optimizer.learning_rate) == pytest.approx(agent.hyperparameters.learning_rate)
    for state, next_state in zip(STATES[:-1], STATES[1:], strict=True):
        agent.remember(state[None], 0, 1.0, next_state[None], False)
    loaded = agent.model.predict(STATES, verbose=0)
    np.testing.assert_allclose(loaded, keras2_file[1](STATES, training=False), rtol=1e-5)
    agent.replay()  # the package's compiled step
    replayed = agent.model.predict(STATES, verbose=0)
    assert not np.allclose(replayed, loaded)
    tutorial_replay(agent, list(agent.memory))  # the tutorial's predict + fit
    assert not np.allclose(agent.model.predict(STATES, verbose=0), replayed)


def test_keras2_file_of_a_wrong_network_gets_one_clear_line(tmp_path):
    inputs = keras.Input((3,))
    wrong = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(8, activation="relu")(inputs)))
    write_keras2_file(wrong, tmp_path / "wrong.h5")
    with pytest.raises(UserError, match=r"input \(None, 3\).*CartPole needs input \(None, 4\)"):
        load_model(tmp_path / "wrong.h5", state_size=4, action_size=2)


def test_own_files_load_without_a_note(saved_model, capsys):
    load_model(saved_model, state_size=4, action_size=2)
    assert capsys.readouterr().out == ""


def test_keras_file_from_keras2_loads_with_the_note(tmp_path, capsys):
    ours = tmp_path / "ours.keras"
    save_model(OurModel(input_shape=(4,), action_space=2), ours)
    older = tmp_path / "older.keras"
    with zipfile.ZipFile(ours) as src, zipfile.ZipFile(older, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "keras_version": "2.15.0"}).encode()
            dst.writestr(item, data)
    load_model(older, state_size=4, action_size=2)
    assert "saved by Keras 2.15.0" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_test_plays_a_keras2_file(keras2_file, cli):
    result = cli("test", "--model", keras2_file[0], "--render", "none", "--episodes", "2")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "Keras 2.2.4" in notes[0]
    assert "test: reached 500 in" in result.stdout
    assert "Traceback" not in result.stderr
