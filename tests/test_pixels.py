"""The author's lesson 6 (``per-d3qn-pixels``): his frames, his stacks, his network, in a memory under 1 GiB.

The frames are compared with OpenCV's own calls where OpenCV is installed (his code's library, not the
package's: ``pip install opencv-python-headless``); the stacks with a transcription of his ``GetImage`` and
``reset``; the network with his layer table.
"""

import gymnasium as gym
import numpy as np
import pytest

from cartpole_dqn.environment import make_env
from cartpole_dqn.frame_memory import FrameMemory
from cartpole_dqn.hyperparameters import PRESETS
from cartpole_dqn.pixels import COLS, REM_STEP, ROWS, lesson_frame
from cartpole_dqn.training import checkpoint
from conftest import seeded_agent
from test_target_network import RecordingUpdates

PIXELS = PRESETS["per-d3qn-pixels"]
STACK = (ROWS, COLS, REM_STEP)


def rendered_frames(episodes: int, seed: int = 0):
    """(episode, RGB frame) of every state of a few randomly played episodes of CartPole-v1, resets included."""
    env = make_env("none", "pixels").unwrapped
    rng = np.random.default_rng(seed)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            yield episode, env.render()
            _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            done = terminated or truncated
        yield episode, env.render()


class LessonImageMemory:
    """His GetImage and reset, transcribed: a (4, ROWS, COLS) float64 stack rolled by one, the newest at 0."""

    def __init__(self):
        self.image_memory = np.zeros((REM_STEP, ROWS, COLS))

    def get_image(self, frame):
        self.image_memory = np.roll(self.image_memory, 1, axis=0)
        self.image_memory[0, :, :] = frame
        return np.expand_dims(self.image_memory, axis=0)

    def reset(self, frame):
        for _ in range(REM_STEP):
            state = self.get_image(frame)
        return state


def test_a_frame_is_his_opencv_frame_bit_for_bit():
    cv2 = pytest.importorskip("cv2", reason="OpenCV (opencv-python-headless) is the yardstick, not a dependency")
    for _, rgb in rendered_frames(3):
        img = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (COLS, ROWS), interpolation=cv2.INTER_CUBIC)
        img[img < 255] = 0
        his = img / 255
        assert np.array_equal(lesson_frame(rgb), his)


def lesson_transitions(frames_by_episode):
    """His (state, next_state) pairs, (1, 4, ROWS, COLS) float64, from each episode's frames."""
    images, transitions = LessonImageMemory(), []
    for frames in frames_by_episode:
        state = images.reset(frames[0])
        for frame in frames[1:]:
            next_state = images.get_image(frame)
            transitions.append((state, next_state))
            state = next_state
    return transitions


def as_his(stacks):
    """Our (n, ROWS, COLS, 4) stacks in his layout, (n, 4, ROWS, COLS) float64."""
    return np.moveaxis(stacks, -1, 1).astype(np.float64)


def test_the_memory_hands_over_his_stacks_bit_for_bit_through_both_rings():
    rng = np.random.default_rng(3)
    episodes = [(rng.random((int(rng.integers(2, 9)), ROWS, COLS)) < 0.5).astype(np.float64) for _ in range(12)]
    his = lesson_transitions(episodes)
    capacity = 7
    memory = FrameMemory(capacity, STACK)
    images, k = LessonImageMemory(), 0
    for frames in episodes:
        env_like = [np.moveaxis(images.reset(frames[0])[0], 0, -1)]
        for frame in frames[1:]:
            env_like.append(np.moveaxis(images.get_image(frame)[0], 0, -1))
            memory.append((env_like[-2][None].astype(np.float32), 1, 1.0, env_like[-1][None].astype(np.float32), False))
            k += 1
    assert k == len(his) and memory.frames_stored > memory.frame_capacity  # both rings went round
    for index in range(-capacity, 0):
        state, _, _, next_state, _ = memory[index]
        assert np.array_equal(as_his(state), his[index][0]) and np.array_equal(as_his(next_state), his[index][1])
    np.random.seed(0)
    draw = memory.sample(32)
    slots = draw.leaves - (capacity - 1)
    oldest = len(his) - capacity
    order = (slots - memory.data_pointer) % capacity  # oldest first
    for row, position in enumerate(order):
        assert np.array_equal(as_his(draw.minibatch.states[row : row + 1]), his[oldest + position][0])
        assert np.array_equal(as_his(draw.minibatch.next_states[row : row + 1]), his[oldest + position][1])


def test_ten_thousand_transitions_fit_in_a_tenth_of_a_gibibyte():
    memory = FrameMemory(10000, STACK)
    held = sum(array.nbytes for array in memory.state().values())
    assert held < 2**30 / 10
    his = 10000 * REM_STEP * ROWS * COLS * 8  # a float64 stack a transition: its next state is the next one's state
    assert his > 11 * 2**30


def test_stacks_that_are_not_black_and_white_are_refused():
    memory = FrameMemory(3, STACK)
    grey = np.full((1, *STACK), 0.5, np.float32)
    with pytest.raises(ValueError, match="0 or 1"):
        memory.append((grey, 0, 1.0, grey, False))


def test_lesson_6_is_lesson_5_seeing_frames_with_a_target_copy_every_4th_episode():
    """Against his script: his epsilon, gamma, minibatch, memory, optimizer and rewards are lesson 5's."""
    assert PIXELS.differences(PRESETS["per-d3qn"]) == {
        "observation": "pixels",
        "target_update_every": 4,
        "target_update_after_episode_0": True,  # after episodes 0, 4, 8: his if e % 4 == 0
    }
    assert PIXELS.target_update_unit == "episodes" and PIXELS.memory_size == 10000


def test_the_network_is_his_layer_table_channels_last():
    from cartpole_dqn.model import OurModel

    model = OurModel(STACK, 2, PIXELS)
    shapes = [layer.output.shape[1:] for layer in model.layers[1:5]]
    assert shapes == [(52, 79, 64), (25, 38, 64), (23, 36, 64), (52992,)]
    assert [layer.output.shape[-1] for layer in model.layers[5:8]] == [512, 256, 64]
    assert model.count_params() == 27_389_379


def short_episodes(steps=4):
    """The lesson's frames, each episode cut at ``steps``: a few replays of the 27-million-weight network."""
    return gym.wrappers.TimeLimit(make_env("none", "pixels"), steps)


def test_a_pixel_run_resumed_from_its_checkpoint_goes_on_as_the_uninterrupted_run(tmp_path):
    """End to end in a few steps: act on frames, store them, replay by priority, checkpoint, resume."""
    hyperparameters = PIXELS.replace(EPISODES=1)
    agent = seeded_agent(hyperparameters, seed=4, env=short_episodes())
    assert agent.run() == [4] and isinstance(agent.memory, FrameMemory)
    checkpoint.save(agent, tmp_path / "pixels.ckpt")
    agent.EPISODES, agent.resume_episode = 2, 1  # the same agent goes on: what a reloaded one must do
    agent.run()

    reloaded = seeded_agent(hyperparameters.replace(EPISODES=2), seed=4, env=short_episodes())
    checkpoint.restore(reloaded, tmp_path / "pixels.ckpt")
    assert reloaded.run() == agent.scores == [4, 4]
    for name, array in agent.memory.state().items():  # the frames, and priorities from the network's errors
        np.testing.assert_array_equal(reloaded.memory.state()[name], array, err_msg=name)
    for ours, theirs in zip(reloaded.model.get_weights(), agent.model.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_the_target_network_is_copied_after_episodes_0_4_8_as_his_e_mod_4_does():
    hyperparameters = PRESETS["per-d3qn"].replace(target_update_every=4, target_update_after_episode_0=True)
    agent = seeded_agent(
        hyperparameters.replace(EPISODES=9), seed=1, agent_class=RecordingUpdates, seen=lambda a: len(a.scores) - 1
    )
    agent.run()
    assert agent.updates == [0, 4, 8]  # the episodes after which the target network was copied
