"""Model files written by another Keras, such as the tutorial author's own.

The tutorial's repository ships ``cartpole-dqn.h5`` saved by Keras 2.2.4.
Keras 3 reads its network and weights, but not its training config (Adam's
old ``lr`` key stops plain ``keras.models.load_model``), and the model's
name, "CartPole model", has a space TensorFlow refuses in ``predict``.
``model.load_model`` loads without compiling anyway; this module tells it
when that dropped a training config, and repairs the name.
"""

from __future__ import annotations

import json
import re
import zipfile

import h5py
import keras

# TensorFlow's rule for a root name scope, which Keras opens with the model's name.
_SCOPE_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*")
_NOT_IN_SCOPE_NAME = re.compile(r"[^A-Za-z0-9_.\\/>-]")


def other_keras_training_config(path) -> str | None:
    """The Keras version that wrote ``path``, if it is not ours and left a training config.

    ``None`` when the file has no training config, comes from this Keras
    major version, or is not a file we can inspect.
    """
    version, has_training_config = _saved_by(path)
    if not (version and has_training_config):
        return None
    return None if version.split(".")[0] == keras.__version__.split(".")[0] else version


def _saved_by(path):
    """(keras_version, whether a training config is stored) of an .h5 or .keras file."""
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            return _text(f.attrs.get("keras_version")), "training_config" in f.attrs
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json"))
            config = json.loads(archive.read("config.json"))
        return metadata.get("keras_version"), bool(config.get("compile_config"))
    return None, False


def _text(value):
    # Keras 2 wrote these attributes as bytes, Keras 3 as str.
    return value.decode() if isinstance(value, bytes) else value


def note_on_loading(path, version) -> str:
    return (
        f"note: {path} was saved by Keras {version}; loaded its network and weights "
        f"without its training config (optimizer, loss)"
    )


def with_usable_name(model):
    """Give ``model`` a name TensorFlow accepts as a scope ("CartPole model" -> "CartPole_model")."""
    if not _SCOPE_NAME.fullmatch(model.name):
        name = _NOT_IN_SCOPE_NAME.sub("_", model.name)
        model.name = name if _SCOPE_NAME.fullmatch(name) else f"model_{name}"
    return model
