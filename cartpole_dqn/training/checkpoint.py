"""Checkpoints: everything training needs to go on after a crash, in one file.

The tutorial's ``cartpole-dqn.h5`` holds the network only.  A checkpoint
(``cartpole-dqn.ckpt`` beside it: :mod:`cartpole_dqn.training.run_files`) also holds
the optimizer's state, epsilon, the replay memory, the target network and its
update count (if there is one), the episodes and scores so far, the state of
the episode hooks that keep some (each a :class:`CheckpointedHook`, under its
``checkpoint_name``: evaluation, the training log), and every random stream training draws from:
Python's ``random`` (minibatches, exploratory actions), NumPy's global
generator (the exploration draw) and the environment's (its starting
states).  The Dropout layers' seed generators are model variables and go with
them.  Training draws from no other stream (not TensorFlow's or Keras's
global generators, not the action space's: ``tests/test_checkpoint.py``
checks), so no other is saved, and nothing private to TensorFlow, Keras or
gymnasium is read.  So a seeded run that is killed and resumed from its
checkpoint prints the same episodes as one that never stopped, and ends with
the same weights.

It is written only at the end of an episode, where the state is nothing but
the above: the last step of an episode replays nothing, so the Q-values
``replay`` hands to the next ``act`` are already used up.  The file is a
NumPy ``.npz`` archive (arrays, and the rest as JSON), read without pickle:
loading one runs no code from it.  Records are stored by field name, never by
position, so reordering a field cannot silently shift a value into another;
``FORMAT`` moves whenever the layout does, and the one older format still read
is converted by :func:`_from_format_2`.  It is written under a temporary name,
flushed to disk and renamed into place, so a crash leaves the previous one.

This module imports no TensorFlow at start-up: the command line reads a
checkpoint's recipe before it loads TensorFlow.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cartpole_dqn.errors import UserError
from cartpole_dqn.hyperparameters import DEFAULTS, Hyperparameters, flag_of
from cartpole_dqn.output_files import written_atomically
from cartpole_dqn.prioritized_memory import PrioritizedMemory
from cartpole_dqn.training.run_files import CHECKPOINT_SUFFIX

# 3: the hooks' records by field name (2: by position); 2: hooks under their checkpoint_name (1: their class
# name), and only the streams training draws from.
FORMAT = 3
# Seconds between checkpoints; one is also written after the first and the last
# episode and whenever a model file was saved.  Its measured cost: docs/resume-and-cluster.md.
DEFAULT_INTERVAL = 60.0


class CheckpointedHook(Protocol):
    """An episode hook whose state goes into the checkpoint and comes back from it on ``--resume``."""

    checkpoint_name: str  # its key in the checkpoint: stable, as the file outlives class names

    def __call__(self, agent: Any, episode: int, score: int) -> bool | None: ...

    def checkpoint_state(self) -> dict:
        """Its state as JSON-able values, each record a dict by field name."""
        ...

    def restore_checkpoint_state(self, state: dict) -> None:
        """Go on from ``state``, which ``checkpoint_state`` gave."""
        ...

    def saved_model_after(self, episode: int) -> bool:
        """Whether it wrote a model file after ``episode``: the checkpoint then follows at once."""
        ...


def is_checkpoint(path) -> bool:
    return str(path).endswith(CHECKPOINT_SUFFIX)


def recipe(hyperparameters: Hyperparameters, seed) -> dict:
    """What a checkpoint must share with the run that resumes it: every hyperparameter but EPISODES, and the seed."""
    values = {
        f.name: getattr(hyperparameters, f.name) for f in dataclasses.fields(hyperparameters) if f.name != "EPISODES"
    }
    return {**values, "seed": seed}


# -- writing --------------------------------------------------------------


def save(agent, path, hooks: Sequence[CheckpointedHook] = ()) -> None:
    """Write ``agent``'s training state, and each of ``hooks``' under its ``checkpoint_name``, to ``path``,
    atomically."""
    model = agent.model
    arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)})
    if agent.target_model is not None:
        arrays.update({f"target/{i}": np.asarray(v) for i, v in enumerate(agent.target_model.variables)})
    if isinstance(agent.memory, PrioritizedMemory):
        arrays.update({f"prioritized_memory/{name}": array for name, array in agent.memory.state().items()})
    else:
        arrays.update(_memory_arrays(agent.memory, agent.state_size))
    numpy_state = np.random.get_state(legacy=True)
    assert isinstance(numpy_state, tuple), "NumPy's global generator is a Mersenne Twister: its state is a tuple"
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
            "env": agent.env.unwrapped.np_random.bit_generator.state,
        },
        "hooks": {hook.checkpoint_name: hook.checkpoint_state() for hook in hooks},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with written_atomically(path, durable=True) as partial, open(partial, "wb") as file:
        np.savez(file, allow_pickle=False, **arrays)


def _memory_arrays(memory, state_size):
    states, actions, rewards, next_states, dones = zip(*memory, strict=True) if memory else ([], [], [], [], [])
    shape = (-1, state_size)
    return {
        "memory/states": np.asarray(states, np.float32).reshape(shape),
        "memory/actions": np.asarray(actions, np.int64),
        "memory/rewards": np.asarray(rewards, np.float64),
        "memory/next_states": np.asarray(next_states, np.float32).reshape(shape),
        "memory/dones": np.asarray(dones, bool),
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
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not a readable checkpoint ({exc})") from None
    if meta.get("format") == 2:
        meta = _from_format_2(meta)
    if meta.get("format") != FORMAT:
        raise UserError(
            f"{path} is a checkpoint of another version of cartpole-dqn (format {meta.get('format')!r}, "
            f"this one reads {FORMAT}); resume it with that version, or train without --resume"
        )
    return meta, arrays


# The fields of format 2's records, in the order it stored them.
_FORMAT_2_FIELDS = {
    "evaluation": (
        "episode mean at500 episodes confirm_mean confirm_at500 confirm_episodes best saved finished".split(),
        "records",
    ),
    "training_log": ("episode score epsilon steps wall_time".split(), "rows"),
}


def _from_format_2(meta: dict) -> dict:
    """A format-2 checkpoint's meta as format 3 has it: each hook's records from lists by position to dicts by
    field name.  (An evaluation record of format 2 may lack ``finished``: it was played to its end, None.)"""
    hooks = {}
    for name, state in meta["hooks"].items():
        fields, key = _FORMAT_2_FIELDS[name]
        records = [dict(itertools.zip_longest(fields, record)) for record in state[key]]
        hooks[name] = {**state, key: records}
    return {**meta, "format": 3, "hooks": hooks}


def check_recipe(meta, hyperparameters, seed, path) -> None:
    """UserError naming every value the checkpoint's run had and this one would not."""
    asked = recipe(hyperparameters, seed)
    # A checkpoint from before an option existed lacks it: its run had the option's default, as every option is off
    # by default.
    had = {name: meta["recipe"].get(name, getattr(DEFAULTS, name, None)) for name in asked}
    differing = [
        f"{'--seed' if name == 'seed' else flag_of(name)} {_shown(had[name])} (asked: {_shown(value)})"
        for name, value in asked.items()
        if had[name] != value
    ]
    if differing:
        raise UserError(
            f"{path} was written by a run with {', '.join(differing)}; resume with the same "
            f"settings, or train without --resume"
        )


def _shown(value):
    return "none" if value is None else value  # a run without --seed, as --help says it


def restore(agent, path, hooks: Sequence[CheckpointedHook] = ()) -> dict:
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
    if isinstance(agent.memory, PrioritizedMemory):
        prefix = "prioritized_memory/"
        agent.memory.restore({name[len(prefix) :]: a for name, a in arrays.items() if name.startswith(prefix)})
    else:
        agent.memory.clear()
        agent.memory.extend(_transitions(arrays))
    agent.epsilon = meta["epsilon"]
    agent.scores, agent.saved_episodes = list(meta["scores"]), list(meta["saved_episodes"])
    agent.resume_episode = meta["episodes_done"]
    _restore_random_streams(meta["random"], arrays, agent.env)
    for hook in hooks:
        state = meta["hooks"].get(hook.checkpoint_name)
        if state is not None:
            hook.restore_checkpoint_state(state)
    return meta


def _assign(variables, arrays, prefix, path):
    saved = [arrays[f"{prefix}/{i}"] for i in range(sum(name.startswith(prefix + "/") for name in arrays))]
    if [tuple(v.shape) for v in variables] != [a.shape for a in saved]:
        raise UserError(f"{path} holds a {prefix} of another shape than this agent's")
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(value)


def _transitions(arrays):
    """The replay memory's tuples, as ``remember`` stored them: (1, n) float32 states, int, float, bool."""
    states, next_states = arrays["memory/states"], arrays["memory/next_states"]
    for i, (action, reward, done) in enumerate(
        zip(
            arrays["memory/actions"].tolist(),
            arrays["memory/rewards"].tolist(),
            arrays["memory/dones"].tolist(),
            strict=True,
        )
    ):
        yield states[i : i + 1], action, reward, next_states[i : i + 1], done


def _restore_random_streams(streams, arrays, env):
    version, internal, gauss = streams["python"]
    random.setstate((version, tuple(internal), gauss))
    name, *rest = streams["numpy"]
    np.random.set_state((name, arrays["numpy_random/keys"], *rest))
    env.unwrapped.np_random.bit_generator.state = streams["env"]


# -- the episode hook -----------------------------------------------------


class Checkpointer:
    """Episode hook: keep a checkpoint of training at ``path``.

    It is written after the first episode (so a run killed at any moment
    after it can resume), then at the end of an episode when ``interval``
    seconds have passed since the last one (0: after every episode), after the
    last episode, and after any episode in which a model file was saved, so
    the models on disk never run ahead of the checkpoint.  ``hooks`` are the
    episode hooks whose state goes into it (they must run before this one).
    """

    def __init__(self, path, interval=DEFAULT_INTERVAL, hooks: Sequence[CheckpointedHook] = ()):
        self.path, self.interval, self.hooks = Path(path), interval, tuple(hooks)
        self._last = time.monotonic()
        self.seconds = 0.0  # spent writing checkpoints
        self.written = 0

    def __call__(self, agent, episode, score):
        wrote_model = agent.saved_episodes[-1:] == [episode] or any(
            hook.saved_model_after(episode) for hook in self.hooks
        )
        if (
            self.written == 0
            or time.monotonic() - self._last >= self.interval
            or episode + 1 >= agent.EPISODES
            or wrote_model
        ):
            start = time.perf_counter()
            save(agent, self.path, self.hooks)
            self.seconds += time.perf_counter() - start
            self.written += 1
            self._last = time.monotonic()
        return False  # never asks training to stop
