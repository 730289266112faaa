"""The tutorial's ``DQNAgent``: remember, act, replay, load, save, run, test.

Read it beside the tutorial's "Putting It All Together" code: the methods
come in the tutorial's order, with its names, attributes and printed lines.
One thing differs in how ``act`` and ``replay`` reach the network: instead of
``model.predict`` per sample and ``model.fit``, they call the compiled
functions of :mod:`cartpole_dqn.compiled`, which compute the same numbers for
a whole minibatch in one call (``tests/test_replay_equivalence.py`` holds the
two side by side).

Process-wide settings are made in :mod:`cartpole_dqn.process`, with one
exception: a ``DQNAgent`` made before TensorFlow has run sets its one thread per
operation itself (:func:`~cartpole_dqn.compiled.use_one_thread_per_operation`),
so that a script that makes one runs as fast as the command line.  The global
random seeds stay the script's to set.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Protocol, SupportsFloat

import gymnasium as gym
import numpy as np

from cartpole_dqn import model as model_io
from cartpole_dqn.compiled import CompiledQNetwork, Minibatch, use_one_thread_per_operation
from cartpole_dqn.environment import MAX_SCORE, make_env, play_greedy
from cartpole_dqn.frame_memory import FrameMemory
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH, DEFAULTS, Hyperparameters
from cartpole_dqn.model import OurModel
from cartpole_dqn.prioritized_memory import PrioritizedMemory, prioritized_memory
from cartpole_dqn.uniform_memory import UniformMemory

# What ``remember`` stores: (state, action, reward, next_state, done), states shaped (1, *state_shape).
Transition = tuple[np.ndarray, int, float, np.ndarray, bool]


class EpisodeHook(Protocol):
    """What ``DQNAgent.run`` calls after each training episode: logging, evaluation, stopping.

    Called as ``hook(agent, episode, score)`` with the episode's number (from
    0, as printed) and its score (steps balanced), after the tutorial's line
    is printed and any save is done.  Return True to stop training after this
    episode; False (or None) goes on.  A hook may read the agent and call
    ``agent.q_values``, ``agent.q_values_snapshot`` or ``agent.save``; it must not change the model, the
    memory or epsilon, nor draw from Python's, NumPy's or TensorFlow's global
    random streams, or training would differ from a run without it.
    """

    def __call__(self, agent: DQNAgent, episode: int, score: int) -> bool | None: ...


class DQNAgent:
    """Deep Q-learning on CartPole-v1, as in the tutorial.

    :param hyperparameters: the recipe; the tutorial's values by default.
    :param env: the environment to play; by default CartPole-v1 made with ``render``.
    :param render: "human" (a window) or "none"; used only when ``env`` is not given.
    :param seed: seeds the environment's first reset, so that a seeded process
        (:func:`cartpole_dqn.process.prepare_process`) repeats its run.
    :param model_path: where ``run`` saves and ``test`` loads.

    ``run()`` trains for ``EPISODES`` episodes, replaying after every step
    that does not end one (or every ``replay_every``-th).  It prints
    ``episode: e/EPISODES, score: i, e: epsilon`` after each episode, saves
    the model to ``model_path`` (printing ``Saving trained model as ...``)
    whenever an episode reaches 500, calls each of ``episode_hooks`` (see
    :class:`EpisodeHook`) and returns the scores.  ``saved_episodes`` lists the episodes after which it saved.

    ``test()`` loads ``model_path`` and plays ``EPISODES`` greedy episodes,
    printing ``episode: e/EPISODES, score: i`` for each; it returns the scores.
    """

    def __init__(
        self,
        hyperparameters: Hyperparameters = DEFAULTS,
        *,
        env: gym.Env | None = None,
        render: str = "none",
        seed: int | None = None,
        model_path=DEFAULT_MODEL_PATH,
    ):
        hp = hyperparameters.validated()
        use_one_thread_per_operation()  # before the network below starts TensorFlow; no change to the numbers
        model_io.use_one_blas_thread()  # evaluation's NumPy forward passes; training's numbers stay the same
        self.hyperparameters = hp
        self.env = env if env is not None else make_env(render, hp.observation)
        self.seed = seed
        observations, actions = self.env.observation_space, self.env.action_space
        if observations.shape is None or not isinstance(actions, gym.spaces.Discrete):
            raise TypeError(
                f"a DQN agent needs array observations and discrete actions, not {observations} and {actions}"
            )
        self.state_shape = tuple(int(n) for n in observations.shape)
        # The tutorial's 4 numbers, or (as in the author's lesson 6) the shape of a stack of frames.
        self.state_size: int | tuple[int, ...] = self.state_shape[0] if len(self.state_shape) == 1 else self.state_shape
        self.action_size = int(actions.n)
        self.model_path = model_path

        self.EPISODES = hp.EPISODES
        # The tutorial's deque, which also keeps its transitions as arrays to sample from (UniformMemory).
        self.memory: UniformMemory | PrioritizedMemory = UniformMemory(maxlen=hp.memory_size)
        if hp.prioritized_replay:  # stacks of frames (lesson 6) in a memory that keeps each frame once
            self.memory = prioritized_memory(hp, self.state_shape, FrameMemory if len(self.state_shape) > 1 else None)
        self.gamma = hp.gamma  # discount rate
        self.epsilon = hp.epsilon  # exploration rate
        self.epsilon_min = hp.epsilon_min
        self.epsilon_decay = hp.epsilon_decay
        self.batch_size = hp.batch_size
        self.train_start = hp.train_start  # replay waits until memory holds this many

        self.scores: list[int] = []  # score of each finished episode of the last run() or test()
        self.saved_episodes: list[int] = []  # episodes of the last run() after which the model was saved
        self.resume_episode = 0  # where the next run() starts: 0, or after a loaded checkpoint's last episode
        self.episode_hooks: list[EpisodeHook] = []
        self.model = OurModel(input_shape=self.state_shape, action_space=self.action_size, hyperparameters=hp)

    def remember(self, state, action: int, reward: float, next_state, done: bool) -> None:
        self.memory.append((state, action, reward, next_state, done))
        if self.hyperparameters.epsilon_decay_at == "remember" and len(self.memory) > self.train_start:
            self._decay_epsilon()

    def act(self, state, q_values: np.ndarray | None = None) -> int:
        """Epsilon-greedy: a random action with probability epsilon, else argmax Q(state).

        ``q_values`` are Q(state) if already known with the current weights:
        ``run`` passes the ones ``replay`` just returned, saving a network call.
        """
        if np.random.random() <= self.epsilon:
            return random.randrange(self.action_size)
        if q_values is None:
            q_values = self.q_values(state)
        return int(np.argmax(q_values))

    def replay(self) -> np.ndarray | None:
        """Fit the model once to targets from a random minibatch; decay epsilon.

        Does nothing until the memory holds train_start transitions (0 in the
        tutorial); epsilon decays here if epsilon_decay_at is "replay".  A
        prioritized memory (the PER lesson) draws the minibatch by priority and
        takes each drawn transition's new priority from its TD error.
        Returns Q-values of the newest next state (the state ``run`` acts on
        next) from the updated network, computed in the same compiled call,
        or None when it did not replay.
        """
        if len(self.memory) < self.train_start:
            return None
        upcoming = self.memory[-1][3]
        if isinstance(self.memory, PrioritizedMemory):
            draw = self.memory.sample(self.batch_size)  # by priority; the loss weighted if importance_sampling
            q_upcoming, errors = self.network.prioritized_train_step_then_q(
                draw.minibatch, self.gamma, upcoming, draw.weights
            )
            self.memory.update_priorities(draw.leaves, errors)
        else:
            q_upcoming = self.network.train_step_then_q(self.sample_minibatch(), self.gamma, upcoming)
        self._count_toward_target_update("replays")
        if self.hyperparameters.epsilon_decay_at == "replay":
            self._decay_epsilon()
        return q_upcoming

    def load(self, name) -> None:
        """Load a saved model, ready both to predict and to keep training.

        A whole training state (``.ckpt``) is ``cartpole_dqn.training.checkpoint.restore``'s job.
        """
        model = model_io.load_model(name, self.state_size, self.action_size)
        self.model = model_io.compile_for_training(model, self.hyperparameters)

    def save(self, name) -> None:
        model_io.save_model(self.model, name)

    def run(self) -> list[int]:
        """Train for EPISODES episodes, replaying after every step that does not end one (or every replay_every-th).

        After ``load`` of a checkpoint, training goes on from the episode after it.
        """
        first_episode, self.resume_episode = self.resume_episode, 0
        if first_episode == 0:
            self.scores, self.saved_episodes = [], []
        steps = sum(self.scores)  # actions taken so far in this run (each step of an episode adds 1 to its score)
        for e in range(first_episode, self.EPISODES):
            state = self._reset(first=e == 0)
            done = False
            i = 0
            q_values = None  # Q(state), when replay has just computed it
            while not done:
                steps += 1
                self._decay_epsilon_before_action(steps)
                action = self.act(state, q_values)
                next_state, reward, terminated, truncated, _ = self.env.step(action)
                # The tutorial's `done`: the pole fell, the cart left, or time ran out.
                done = terminated or truncated
                next_state = np.reshape(next_state, (1, *self.state_shape))
                reward = self.reward_to_store(reward, terminated, truncated)
                self.remember(state, action, reward, next_state, self.done_to_store(terminated, truncated))
                state = next_state
                i += 1
                if done:
                    print(f"episode: {e}/{self.EPISODES}, score: {i}, e: {self.epsilon:.2}", flush=True)
                    self.scores.append(i)
                    if i == MAX_SCORE:
                        print(f"Saving trained model as {self.model_path}", flush=True)
                        self.save(self.model_path)
                        self.saved_episodes.append(e)
                    break
                q_values = self.replay() if i % self.hyperparameters.replay_every == 0 else None
            self._count_toward_target_update("episodes")
            if any([hook(self, e, i) for hook in self.episode_hooks]):
                break
        return self.scores

    def test(self) -> list[int]:
        """Load the saved model and play EPISODES greedy episodes."""
        self.load(self.model_path)
        self.scores = []
        for e in range(self.EPISODES):
            # Seed the environment on the first episode only, as _reset does.
            [i], _ = play_greedy(self.q_values, [self.env], [self.seed if e == 0 else None])
            print(f"episode: {e}/{self.EPISODES}, score: {i}", flush=True)
            self.scores.append(i)
        return self.scores

    # -- what the tutorial's methods use ------------------------------------

    @property
    def model(self):
        """The Keras Q-network (the tutorial's ``OurModel``)."""
        return self.network.model

    @model.setter
    def model(self, model) -> None:
        hp = self.hyperparameters
        # The target network, if any, exists before the calls that use it are traced.
        target_model = model_io.copy_of(model) if hp.target_update_every else None
        self.network = CompiledQNetwork(
            model,
            target_model,
            double_dqn=hp.double_dqn,
            tau=hp.tau,
            update_target_every_step=hp.target_update_every == 1 and hp.target_update_unit == "replays",
        )
        # Replays or episodes (target_update_unit) since the last update; lesson 6 counts episode 0 as the N-th.
        self.since_target_update = hp.target_update_every - 1 if hp.target_update_after_episode_0 else 0

    # -- the target network of the author's DDQN lesson (off in the tutorial's recipe) --

    @property
    def target_model(self):
        """The network that values next states, or None: then the online network does, as in the tutorial."""
        return self.network.target_model

    def update_target_model(self) -> None:
        """Copy the online weights into the target network, or move them tau of the way (soft update)."""
        self.network.update_target()

    def _count_toward_target_update(self, unit: str) -> None:
        """Count one replay or episode (``unit``); update the target network every target_update_every."""
        hp = self.hyperparameters
        if self.target_model is None or hp.target_update_unit != unit or self.network.update_target_every_step:
            return  # no target network, another unit, or the replay's compiled call updated it
        self.since_target_update += 1
        if self.since_target_update == hp.target_update_every:
            self.since_target_update = 0
            self.update_target_model()

    def q_values(self, states) -> np.ndarray:
        """Q-values of a batch of states, shape (n, actions): the tutorial's ``model.predict``."""
        return self.network.q_values(states)

    def q_values_snapshot(self) -> Callable[[np.ndarray], np.ndarray]:
        """``q_values`` of the current weights for many calls with no training between them: evaluation's.

        A snapshot of the weights in NumPy (:func:`cartpole_dqn.model.q_values_in_numpy`)
        answers a batch of ten states five times faster than a call of the
        network; a network that is no Dense stack is called as it is.
        """
        return model_io.q_values_in_numpy(self.model) or self.q_values

    def sample_minibatch(self) -> Minibatch:
        """The tutorial's uniform sample of the memory as arrays; a prioritized memory's draw by priority."""
        if isinstance(self.memory, PrioritizedMemory):
            return self.memory.sample(self.batch_size).minibatch
        return self.memory.minibatch(self.batch_size)  # the tutorial's random.sample(memory, batch_size), as arrays

    def reward_to_store(self, reward: SupportsFloat, terminated: bool, truncated: bool) -> float:
        """The environment's reward, or done_reward for the step that ends the episode.

        With time_limit_reward "plain", reaching the time limit (truncated, at
        step 500) is no failure and keeps the environment's reward.
        """
        if truncated and self.hyperparameters.time_limit_reward == "plain":
            return float(reward)
        return self.hyperparameters.done_reward if terminated or truncated else float(reward)

    def done_to_store(self, terminated: bool, truncated: bool) -> bool:
        """The ``done`` stored with a step: whether its target stops at its reward.

        The tutorial's: the pole fell, the cart left, or time ran out.  With
        bootstrap_time_limit, a cut by the time limit is no end of the
        pole's future, so the next state is valued as after any other step.
        """
        if self.hyperparameters.bootstrap_time_limit:
            return terminated
        return terminated or truncated

    def _decay_epsilon(self) -> None:
        if self.epsilon > self.epsilon_min:
            self.epsilon *= self.epsilon_decay

    def _decay_epsilon_before_action(self, step: int) -> None:
        """With epsilon_decay_at "act" (the author's lessons 4 and 5): epsilon for the run's ``step``-th action.

        Lesson 4's schedule is exponential in the step (epsilon_decay_rate);
        lesson 5 multiplies by epsilon_decay, as the tutorial does per replay.
        """
        hp = self.hyperparameters
        if hp.epsilon_decay_at != "act":
            return
        if hp.epsilon_decay_rate:
            self.epsilon = hp.epsilon_min + (hp.epsilon - hp.epsilon_min) * math.exp(-hp.epsilon_decay_rate * step)
        else:
            self._decay_epsilon()

    def _reset(self, first: bool):
        # Seed the environment once; later resets continue its random stream.
        state, _ = self.env.reset(seed=self.seed if first else None)
        return np.reshape(state, (1, *self.state_shape))
