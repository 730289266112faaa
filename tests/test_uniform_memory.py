"""The agent's uniform memory samples exactly the minibatch the tutorial's ``random.sample`` of a deque gives."""

import copy
import pickle
import random
from collections import deque

import numpy as np
import pytest

from cartpole_dqn.compiled import minibatch_arrays
from cartpole_dqn.uniform_memory import UniformMemory


def transitions(count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield (
            rng.normal(size=(1, 4)).astype(np.float32),
            int(rng.integers(2)),
            float(rng.choice([1.0, -10.0])),
            rng.normal(size=(1, 4)).astype(np.float32),
            bool(rng.random() < 0.1),
        )


def assert_same_draw(memory: UniformMemory, size: int, seed: int) -> None:
    """The memory's minibatch and the tutorial's sample of a plain deque from the same random state."""
    random.seed(seed)
    theirs = minibatch_arrays(random.sample(deque(memory), min(len(memory), size)))
    after_theirs = random.random()
    random.seed(seed)
    ours = memory.minibatch(size)
    assert random.random() == after_theirs  # the same draws from Python's random stream
    for name, a, b in zip(theirs._fields, ours, theirs, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)


# 1045 is where random.sample of 128 switches from shuffling a copy of the population to drawing positions into a set.
@pytest.mark.parametrize("appended", [1, 100, 1045, 1046, 1999, 2000, 2001, 5321])
def test_the_minibatch_is_the_tutorials_random_sample_of_the_deque(appended):
    memory = UniformMemory(maxlen=2000)
    for transition in transitions(appended):
        memory.append(transition)
    assert_same_draw(memory, 128, seed=appended)


def test_arrays_kept_by_append_after_a_sample_follow_the_deque_round_the_ring():
    memory = UniformMemory(maxlen=300)
    stream = transitions(1000)
    for transition in [next(stream) for _ in range(50)]:
        memory.append(transition)
    memory.minibatch(32)  # builds the arrays; from here on append writes them
    for seed, transition in enumerate(stream):
        memory.append(transition)
        if seed % 97 == 0:
            assert_same_draw(memory, 32, seed)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.clear(),
        lambda m: m.extend(list(transitions(7, seed=1))),
        lambda m: m.appendleft(next(transitions(1, seed=2))),
        lambda m: m.rotate(3),
        lambda m: m.__setitem__(5, next(transitions(1, seed=3))),
        lambda m: m.__delitem__(0),
        lambda m: m.pop(),
        lambda m: (m.popleft(), m.insert(10, next(transitions(1, seed=5)))),
    ],
)
def test_any_other_change_to_the_deque_is_followed(change):
    memory = UniformMemory(maxlen=100)
    for transition in transitions(120):
        memory.append(transition)
    memory.minibatch(16)
    change(memory)
    for transition in transitions(3, seed=4):
        memory.append(transition)
    if memory:
        assert_same_draw(memory, 16, seed=5)


def test_copies_and_pickles_sample_as_the_original():
    memory = UniformMemory(transitions(150), maxlen=200)
    memory.minibatch(8)
    for other in (memory.copy(), copy.deepcopy(memory), pickle.loads(pickle.dumps(memory))):
        assert isinstance(other, UniformMemory) and other.maxlen == 200 and len(other) == 150
        other.append(next(transitions(1, seed=9)))
        assert_same_draw(other, 64, seed=6)


def test_a_uniform_memory_needs_a_maxlen():
    with pytest.raises(TypeError, match="maxlen"):
        UniformMemory()
