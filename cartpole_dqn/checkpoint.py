"""Checkpoints: everything training needs to go on after a crash, in one file.

The tutorial's ``cartpole-dqn.h5`` holds the network only.  A checkpoint
(``cartpole-dqn.ckpt`` beside it) also holds the optimizer's state, epsilon,
the replay memory, the target network and its update count (if there is
one), the episodes and scores so far, the state of the episode
hooks that keep some (evaluation, the training log), and every random stream
training draws from: Python's ``random``, NumPy's global generator,
TensorFlow's and Keras's (the Dropout layers' seed generators are model
variables), and the environment's and its action space's generators.  So a
seeded run that is killed and resumed from its checkpoint prints the same
episodes as one that never stopped, and ends with the same weights.

It is written only at the end of an episode, where the state is nothing but
the above: the last step of an episode replays nothing, so the Q-values
``replay`` hands to the next ``act`` are already used up.  The file is a
NumPy ``.npz`` archive (arrays, and the rest as JSON), read without pickle:
loading one runs no code from it.  It is written under a temporary name,
flushed to disk and renamed into place, so a crash leaves the previous one.

This module imports no TensorFlow at start-up: the command line reads
:func:`checkpoint_path` before it loads TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
import zipfile
from pathlib import Path

import numpy as np

from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import Hyperparameters, flag_of
from cartpole_dqn.output_files import written_atomically

SUFFIX = ".ckpt"
FORMAT = 1
# Seconds between checkpoints; one is also written after the last episode and
# whenever a model file was saved.  Its measured cost: docs/resume-and-cluster.md.
DEFAULT_INTERVAL = 60.0


def checkpoint_path(model_path) -> Path:
    """``cartpole-dqn.h5`` -> ``cartpole-dqn.ckpt``, beside it."""
    path = Path(model_path)
    return path.with_name(path.stem + SUFFIX)


def is_checkpoint(path) -> bool:
    return str(path).endswith(SUFFIX)


def recipe(hyperparameters: Hyperparameters, seed) -> dict:
    """What a checkpoint must share with the run that resumes it: every hyperparameter but EPISODES, and the seed."""
    values = {f.name: getattr(hyperparameters, f.name) for f in dataclasses.fields(hyperparameters)
              if f.name != "EPISODES"}
    return {**values, "seed": seed}


# -- writing --------------------------------------------------------------


def save(agent, path, hooks=()) -> None:
    """Write ``agent``'s training state (and each hook's ``checkpoint_state()``) to ``path``, atomically."""
    model = agent.model
    arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)})
    if agent.target_model is not None:
        arrays.update({f"target/{i}": np.asarray(v) for i, v in enumerate(agent.target_model.variables)})
    arrays.update(_memory_arrays(agent.memory, agent.state_size))
    numpy_state = np.random.get_state()
    arrays["numpy_random/keys"] = numpy_state[1]
    meta = {
        "format": FORMAT,
        "recipe": recipe(agent.hyperparameters, agent.seed),
        "episodes_done": len(agent.scores),
        "epsilon": agent.epsilon,
        "since_target_update": agent.since_target_update,
        "scores": agent.scores,
        "saved_episodes": agent.saved_episodes,
        "random": {
            "python": random.getstate(),
            "numpy": [numpy_state[0], *numpy_state[2:]],
            **_tensorflow_random_state(),
            "env": agent.env.unwrapped.np_random.bit_generator.state,
            "action_space": _generator_state(agent.env.action_space._np_random),
        },
        "hooks": {type(hook).__name__: hook.checkpoint_state() for hook in hooks},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with written_atomically(path, durable=True) as partial, open(partial, "wb") as file:
        np.savez(file, **arrays)


def _memory_arrays(memory, state_size):
    states, actions, rewards, next_states, dones = zip(*memory) if memory else ([], [], [], [], [])
    shape = (-1, state_size)
    return {
        "memory/states": np.asarray(states, np.float32).reshape(shape),
        "memory/actions": np.asarray(actions, np.int64),
        "memory/rewards": np.asarray(rewards, np.float64),
        "memory/next_states": np.asarray(next_states, np.float32).reshape(shape),
        "memory/dones": np.asarray(dones, bool),
    }


def _generator_state(generator):
    return None if generator is None else generator.bit_generator.state


def _tensorflow_random_state() -> dict:
    """Keras's global seed generator, TensorFlow's op-seed stream and global Generator (each None if unused)."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from tensorflow.python.eager import context
    from tensorflow.python.ops import stateful_random_ops

    keras_global = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    tf_context = context.context()
    tf_global = stateful_random_ops.global_generator
    op_seeds = getattr(tf_context, "_rng", None)  # made by the first global seed; absent in an unseeded process
    return {
        "keras_global": None if keras_global is None else np.asarray(keras_global.state).tolist(),
        "tf_seed": tf_context._seed,
        "tf_op_seeds": None if op_seeds is None else op_seeds.getstate(),
        "tf_global": None if tf_global is None else np.asarray(tf_global.state).tolist(),
    }


# -- reading --------------------------------------------------------------


def read(path) -> tuple[dict, dict]:
    """(meta, arrays) of the checkpoint at ``path``; UserError if there is none or it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint at {path} to resume from; train without --resume to start one")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, this version reads {FORMAT}")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not a readable checkpoint ({exc})") from None
    return meta, arrays


def check_recipe(meta, hyperparameters, seed, path) -> None:
    """UserError naming every value the checkpoint's run had and this one would not."""
    asked = recipe(hyperparameters, seed)
    differing = [f"{'--seed' if name == 'seed' else flag_of(name)} {_shown(meta['recipe'].get(name))} "
                 f"(asked: {_shown(value)})" for name, value in asked.items() if meta["recipe"].get(name) != value]
    if differing:
        raise UserError(f"{path} was written by a run with {', '.join(differing)}; resume with the same "
                        f"settings, or train without --resume")


def _shown(value):
    return "none" if value is None else value  # a run without --seed, as --help says it


def restore(agent, path, hooks=()) -> dict:
    """Put the training state saved at ``path`` into ``agent`` (and ``hooks``); return the checkpoint's meta.

    ``agent.run()`` then goes on with the episode after the checkpoint.
    """
    meta, arrays = read(path)
    check_recipe(meta, agent.hyperparameters, agent.seed, path)
    model = agent.model
    _assign(model.variables, arrays, "model", path)
    model.optimizer.build(model.trainable_variables)
    _assign(model.optimizer.variables, arrays, "optimizer", path)
    if agent.target_model is not None:
        _assign(agent.target_model.variables, arrays, "target", path)
    agent.since_target_update = meta["since_target_update"]
    agent.memory.clear()
    agent.memory.extend(_transitions(arrays))
    agent.epsilon = meta["epsilon"]
    agent.scores, agent.saved_episodes = list(meta["scores"]), list(meta["saved_episodes"])
    agent.resume_episode = meta["episodes_done"]
    _restore_random_streams(meta["random"], arrays, agent.env)
    for hook in hooks:
        state = meta["hooks"].get(type(hook).__name__)
        if state is not None:
            hook.restore_checkpoint_state(state)
    return meta


def _assign(variables, arrays, prefix, path):
    saved = [arrays[f"{prefix}/{i}"] for i in range(sum(name.startswith(prefix + "/") for name in arrays))]
    if [tuple(v.shape) for v in variables] != [a.shape for a in saved]:
        raise UserError(f"{path} holds a {prefix} of another shape than this agent's")
    for variable, value in zip(variables, saved):
        variable.assign(value)


def _transitions(arrays):
    """The replay memory's tuples, as ``remember`` stored them: (1, n) float32 states, int, float, bool."""
    states, next_states = arrays["memory/states"], arrays["memory/next_states"]
    for i, (action, reward, done) in enumerate(zip(arrays["memory/actions"].tolist(),
                                                   arrays["memory/rewards"].tolist(),
                                                   arrays["memory/dones"].tolist())):
        yield states[i:i + 1], action, reward, next_states[i:i + 1], done


def _restore_random_streams(streams, arrays, env):
    from keras.src.random import seed_generator
    from tensorflow.python.eager import context
    from tensorflow.python.ops import stateful_random_ops

    version, internal, gauss = streams["python"]
    random.setstate((version, tuple(internal), gauss))
    name, *rest = streams["numpy"]
    np.random.set_state((name, arrays["numpy_random/keys"], *rest))
    if streams["keras_global"] is not None:
        seed_generator.global_seed_generator().state.assign(np.asarray(streams["keras_global"], np.int64))
    tf_context = context.context()
    if streams["tf_seed"] is not None:
        tf_context._set_global_seed(streams["tf_seed"])
    if streams["tf_op_seeds"] is not None:
        version, internal, gauss = streams["tf_op_seeds"]
        tf_context._rng.setstate((version, tuple(internal), gauss))
    if streams["tf_global"] is not None:
        stateful_random_ops.get_global_generator().state.assign(np.asarray(streams["tf_global"], np.int64))
    env.unwrapped.np_random.bit_generator.state = streams["env"]
    if streams["action_space"] is None:
        env.action_space._np_random = None
    else:
        env.action_space.np_random.bit_generator.state = streams["action_space"]


# -- the episode hook -----------------------------------------------------


class Checkpointer:
    """Episode hook: keep a checkpoint of training at ``path``.

    It is written at the end of an episode when ``interval`` seconds have
    passed since the last one (0: after every episode), after the last
    episode, and after any episode in which a model file was saved, so the
    models on disk never run ahead of the checkpoint.  ``hooks`` are the
    episode hooks whose state goes into it (they must run before this one).
    """

    def __init__(self, path, interval=DEFAULT_INTERVAL, hooks=()):
        self.path, self.interval, self.hooks = Path(path), interval, tuple(hooks)
        self._last = time.monotonic()
        self.seconds = 0.0  # spent writing checkpoints
        self.written = 0

    def __call__(self, agent, episode, score):
        wrote_model = agent.saved_episodes[-1:] == [episode] or any(
            hook.saved_model_after(episode) for hook in self.hooks if hasattr(hook, "saved_model_after"))
        if (time.monotonic() - self._last >= self.interval or episode + 1 >= agent.EPISODES or wrote_model):
            start = time.perf_counter()
            save(agent, self.path, self.hooks)
            self.seconds += time.perf_counter() - start
            self.written += 1
            self._last = time.monotonic()
        return False  # never asks training to stop
