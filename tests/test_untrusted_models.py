"""Model files from strangers: broken, strange or code-carrying files are refused in one line, never run.

Hypothesis feeds the loading function (in this process, fast) truncated,
bit-flipped, empty and wrong-structure .h5 and .keras files; a few
representative files then go through ``cartpole-dqn test``'s command line.
Files whose Lambda layer would create a marker file when built prove that
nothing a file carries is executed: Keras's safe mode stays on.
"""

import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartpole_dqn.errors import UserError
from cartpole_dqn.model import OurModel, load_model, save_model

# 40 examples per property keep the file under a minute; UNTRUSTED_EXAMPLES=400 searches harder.
EXAMPLES = settings(
    max_examples=int(os.environ.get("UNTRUSTED_EXAMPLES", 40)),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and code-carrying model files, as bytes by name, and the marker their code would create."""
    folder = tmp_path_factory.mktemp("untrusted")
    marker = folder / "code-ran"
    good = OurModel((4,), 2)
    save_model(good, folder / "good.h5")
    save_model(good, folder / "good.keras")
    # Building the model runs the lambda once (Keras traces it); loading must not run it again.
    inputs = keras.Input((4,))
    touch = eval(f"lambda x: __import__('pathlib').Path({str(marker)!r}).touch() or x")
    outputs = keras.layers.Dense(2)(keras.layers.Lambda(touch)(keras.layers.Dense(8)(inputs)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that a lambda is unsafe to save: that is the point
        save_model(keras.Model(inputs, outputs), folder / "lambda.h5")
        save_model(keras.Model(inputs, outputs), folder / "lambda.keras")
    marker.unlink()
    contents = {path.name: path.read_bytes() for path in folder.iterdir()}
    contents["import.keras"] = _with_config(contents["good.keras"], _class_from_module("os", "system"))
    return contents, marker


def _with_config(keras_file: bytes, change) -> bytes:
    """A .keras archive with ``change`` applied to its config.json."""
    source = zipfile.ZipFile(io.BytesIO(keras_file))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            archive.writestr(item, data)
    return out.getvalue()


def _class_from_module(module, name):
    """A config change naming a function outside Keras as the first Dense layer's class."""

    def change(config):
        layer = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
        layer.update(module=module, class_name=name, registered_name=None)

    return change


def refused_or_cartpole_network(path: Path, marker: Path) -> None:
    """The property: a one-line UserError, or (for bytes that still make a model) a CartPole network; no code run."""
    try:
        model = load_model(path, 4, 2)
    except UserError as error:
        assert "\n" not in str(error) and str(error).startswith(str(path))
    else:  # a flipped bit inside a weight is still a model: nothing in the file can tell
        assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    assert not marker.exists(), "loading ran code from the file"


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["good.h5", "good.keras", "lambda.h5", "lambda.keras"])
@EXAMPLES
@given(data=st.data())
def test_truncated_files(files, tmp_path, name, data):
    contents, marker = files
    original = contents[name]
    cut = data.draw(st.integers(0, len(original) - 1), label="keep bytes")
    refused_or_cartpole_network(_write(tmp_path, name, original[:cut]), marker)


@pytest.mark.parametrize("name", ["good.h5", "good.keras", "lambda.h5", "lambda.keras"])
@EXAMPLES
@given(data=st.data())
def test_bit_flipped_files(files, tmp_path, name, data):
    contents, marker = files
    flipped = bytearray(contents[name])
    # Flips anywhere, and flips in the first 4 KB where the structure (headers, config) lives.
    where = st.one_of(st.integers(0, len(flipped) - 1), st.integers(0, min(4096, len(flipped)) - 1))
    for position, bit in data.draw(st.lists(st.tuples(where, st.integers(0, 7)), min_size=1, max_size=16)):
        flipped[position] ^= 1 << bit
    refused_or_cartpole_network(_write(tmp_path, name, bytes(flipped)), marker)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# The keys Keras looks for, so that some examples get past the first checks.
CONFIG_KEYS = st.sampled_from(
    [
        "class_name",
        "config",
        "layers",
        "module",
        "registered_name",
        "build_config",
        "name",
        "inbound_nodes",
        "input_layers",
        "output_layers",
        "keras_version",
    ]
)
CONFIG = st.dictionaries(CONFIG_KEYS, JSON, max_size=6)


@EXAMPLES
@given(
    config=CONFIG,
    attrs=st.dictionaries(
        st.sampled_from(["model_config", "keras_version", "backend", "training_config"]), JSON, max_size=3
    ),
    weights=st.booleans(),
)
def test_hdf5_files_of_the_wrong_structure(files, tmp_path, config, attrs, weights):
    path = tmp_path / "strange.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value)
        if weights:
            f.create_group("model_weights").create_dataset("dense/kernel", data=np.zeros((4, 2), np.float32))
    refused_or_cartpole_network(path, files[1])


@EXAMPLES
@given(
    members=st.dictionaries(
        st.sampled_from(["config.json", "metadata.json", "model.weights.h5", "other"]),
        st.one_of(CONFIG.map(json.dumps), st.text(max_size=20)),
        max_size=4,
    )
)
def test_keras_archives_of_the_wrong_structure(files, tmp_path, members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    refused_or_cartpole_network(_write(tmp_path, "strange.keras", out.getvalue()), files[1])


def test_code_carrying_and_empty_files_are_refused(files, tmp_path):
    contents, marker = files
    for name in ("lambda.h5", "lambda.keras", "import.keras"):
        with pytest.raises(UserError, match="is not a readable Keras model"):
            load_model(_write(tmp_path, name, contents[name]), 4, 2)
    for name in ("empty.h5", "empty.keras"):
        with pytest.raises(UserError, match="is not a readable Keras model"):
            load_model(_write(tmp_path, name, b""), 4, 2)
    assert not marker.exists()


@pytest.mark.parametrize(
    "name, make",
    [
        ("lambda.h5", lambda c: c["lambda.h5"]),
        ("lambda.keras", lambda c: c["lambda.keras"]),
        ("import.keras", lambda c: c["import.keras"]),
        ("truncated.h5", lambda c: c["good.h5"][:5000]),
    ],
)
def test_the_command_line_refuses_them_in_one_line(files, tmp_path, cli_error, name, make):
    contents, marker = files
    _write(tmp_path, name, make(contents))
    line = cli_error("test", "--render", "none", "--episodes", 1, "--model", name, before_tensorflow=False)
    assert line.startswith(f"cartpole-dqn: error: {name} is not a readable Keras model (")
    assert not marker.exists()
