"""The tutorial's ``DQNAgent``: remember, act, replay, load, save, run, test.

Read it beside the tutorial's "Putting It All Together" code: the method
names, attributes and printed lines are the tutorial's.  What differs is how
``replay`` and ``act`` talk to Keras.  The tutorial calls ``model.predict``
once per sample (two calls per transition, ~40 ms each in Keras 3) and then
``model.fit``; here one compiled TensorFlow function computes the same
targets for the whole minibatch and takes the same single gradient step.
``tests/test_replay_equivalence.py`` holds the two side by side.
"""

from __future__ import annotations

import os
import random
from collections import deque

import keras
import numpy as np
import tensorflow as tf

from cartpole_dqn import model as model_io
from cartpole_dqn.environment import make_env
from cartpole_dqn.evaluation import play_greedy
from cartpole_dqn.hyperparameters import DEFAULT_MODEL_PATH, DEFAULTS, Hyperparameters
from cartpole_dqn.model import OurModel
from cartpole_dqn.summary import SOLVED_SCORE


class DQNAgent:
    """Deep Q-learning on CartPole-v1, as in the tutorial.

    ``hyperparameters`` defaults to the tutorial's values; ``render`` is
    "human" or "none"; ``seed`` makes a run repeatable on one machine;
    ``model_path`` is where ``run`` saves and ``test`` loads.
    """

    def __init__(self, hyperparameters: Hyperparameters = DEFAULTS, *, render="none",
                 seed=None, model_path=DEFAULT_MODEL_PATH):
        hp = hyperparameters.validated()
        _one_thread_per_operation()
        self.hyperparameters = hp
        self.seed = seed
        if seed is not None:
            # Seeds Python's `random`, NumPy and TensorFlow: the tutorial's
            # random choices, the initial weights and dropout.
            keras.utils.set_random_seed(seed)
        self.env = make_env(render)
        self.state_size = int(self.env.observation_space.shape[0])
        self.action_size = int(self.env.action_space.n)
        self.model_path = model_path

        self.EPISODES = hp.EPISODES
        self.memory = deque(maxlen=hp.memory_size)
        self.gamma = hp.gamma  # discount rate
        self.epsilon = hp.epsilon  # exploration rate
        self.epsilon_min = hp.epsilon_min
        self.epsilon_decay = hp.epsilon_decay
        self.batch_size = hp.batch_size
        self.learning_rate = hp.learning_rate
        self.train_start = hp.train_start  # replay waits until memory holds this many

        self.scores = []  # score of each finished episode of the last run() or test()
        self.saved_episodes = []  # episodes of the last run() after which the model was saved
        # Called as hook(agent, episode, score) after each training episode;
        # a hook that returns True stops training (logging and evaluation plug in here).
        self.episode_hooks = []
        self.model = OurModel(input_shape=(self.state_size,), action_space=self.action_size,
                              learning_rate=self.learning_rate, hyperparameters=hp)

    # -- the model and its compiled calls ---------------------------------

    @property
    def model(self):
        return self._model

    @model.setter
    def model(self, model):
        """Install a Q-network and compile the calls the hot loop makes."""
        self._model = model
        self._next_q = None  # (state, Q-values) that the last replay computed for the next act
        self.target_model = self._new_target_model(model)  # before the calls that use it are traced
        self._since_target_update = 0  # replays or episodes (target_update_unit)
        states = tf.TensorSpec([None, self.state_size], tf.float32)
        minibatch = [states, tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32),
                     states, tf.TensorSpec([None], tf.bool), tf.TensorSpec([], tf.float32)]
        self._q_values = _compiled(lambda s: model(s, training=False), [states])
        self._replay_step = _compiled(self._train_on_targets, minibatch)
        self._replay_then_predict = _compiled(self._train_then_predict, minibatch + [states])
        self._targets = _compiled(self._q_targets, minibatch)
        self._update_target = _compiled(self._move_target_toward_online, [])

    def _q_targets(self, states, actions, rewards, next_states, dones, gamma):
        """The tutorial's y_target for a whole minibatch at once.

        Per sample the tutorial does: y = predict(state); y[action] = reward if
        done else reward + gamma * max(predict(next_state)).  ``predict`` runs
        in inference mode (no dropout), so both forward passes here do too;
        states and next states go through the network in one call.
        """
        q_all = self._model(tf.concat([states, next_states], axis=0), training=False)
        q, q_next = tf.split(q_all, 2, axis=0)
        target = tf.where(dones, rewards, rewards + gamma * self._next_state_values(q_next, next_states))
        chosen = tf.one_hot(actions, self.action_size, on_value=True, off_value=False)
        return tf.where(chosen, target[:, None], q)

    def _next_state_values(self, q_next, next_states):
        """What each next state is worth: max_a Q(s', a), from the target network if there is one.

        ``q_next`` is the online network's Q(s', .).  With Double DQN (the
        author's DDQN lesson) the online network picks the action and the
        target network values it.  The target network's pass is part of the
        same compiled call.
        """
        if self.target_model is None:
            return tf.reduce_max(q_next, axis=1)
        target_q_next = self.target_model(next_states, training=False)
        if not self.hyperparameters.double_dqn:
            return tf.reduce_max(target_q_next, axis=1)
        best = tf.argmax(q_next, axis=1, output_type=tf.int32)
        return tf.gather(target_q_next, best, axis=1, batch_dims=1)

    def _train_on_targets(self, states, actions, rewards, next_states, dones, gamma):
        """One gradient step on the minibatch, as the tutorial's single ``fit`` call."""
        y_batch = self._q_targets(states, actions, rewards, next_states, dones, gamma)
        model = self._model
        with tf.GradientTape() as tape:
            predictions = model(states, training=True)  # dropout active, as in fit
            loss = model.loss(y_batch, predictions)
        variables = model.trainable_variables
        model.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def _train_then_predict(self, states, actions, rewards, next_states, dones, gamma, upcoming):
        """The replay update, then Q(upcoming) with the updated weights: two steps, one call.

        TensorFlow orders the forward pass after the weight updates because
        both use the same variables (automatic control dependencies).
        """
        self._train_on_targets(states, actions, rewards, next_states, dones, gamma)
        return self._model(upcoming, training=False)

    # -- the target network (off in the tutorial's recipe) -----------------

    def _new_target_model(self, model):
        """A copy of ``model`` to value next states, or None without target_update_every."""
        if not self.hyperparameters.target_update_every:
            return None
        target_model = keras.models.clone_model(model)
        target_model.set_weights(model.get_weights())
        return target_model

    def _move_target_toward_online(self):
        tau = self.hyperparameters.tau
        for target, online in zip(self.target_model.weights, self._model.weights):
            target.assign(online if tau == 1.0 else (1.0 - tau) * target + tau * online)

    def update_target_model(self):
        """Copy the online weights into the target network, or move them tau of the way (soft update)."""
        self._update_target()

    def _count_toward_target_update(self, unit):
        """Count one replay or episode (``unit``); update the target network every target_update_every."""
        hp = self.hyperparameters
        if self.target_model is None or hp.target_update_unit != unit:
            return
        self._since_target_update += 1
        if self._since_target_update == hp.target_update_every:
            self._since_target_update = 0
            self.update_target_model()

    # -- the tutorial's methods -------------------------------------------

    def remember(self, state, action, reward, next_state, done):
        self.memory.append((state, action, reward, next_state, done))
        if self.hyperparameters.epsilon_decay_at == "remember" and len(self.memory) > self.train_start:
            self._decay_epsilon()

    def _decay_epsilon(self):
        if self.epsilon > self.epsilon_min:
            self.epsilon *= self.epsilon_decay

    def reward_to_store(self, reward, terminated, truncated):
        """The environment's reward, or done_reward for the step that ends the episode.

        With time_limit_reward "plain", reaching the time limit (truncated, at
        step 500) is no failure and keeps the environment's reward.
        """
        if truncated and self.hyperparameters.time_limit_reward == "plain":
            return reward
        return self.hyperparameters.done_reward if terminated or truncated else reward

    def done_to_store(self, terminated, truncated):
        """The ``done`` stored with a step: whether its target stops at its reward.

        The tutorial's: the pole fell, the cart left, or time ran out.  With
        bootstrap_time_limit, a cut by the time limit is no end of the
        pole's future, so the next state is valued as after any other step.
        """
        if self.hyperparameters.bootstrap_time_limit:
            return terminated
        return terminated or truncated

    def act(self, state):
        """Epsilon-greedy: a random action with probability epsilon, else argmax Q."""
        cached, self._next_q = self._next_q, None  # good for this call only
        if np.random.random() <= self.epsilon:
            return random.randrange(self.action_size)
        # In run(), replay has just computed Q for this very state with the
        # current weights: reuse it rather than make a second compiled call.
        q = cached[1] if cached is not None and cached[0] is state else self._q_values(state).numpy()
        return int(np.argmax(q))

    def sample_minibatch(self):
        """The tutorial's uniform sample, as arrays: states, actions, rewards, next states, dones."""
        minibatch = random.sample(self.memory, min(len(self.memory), self.batch_size))
        states, actions, rewards, next_states, dones = zip(*minibatch)
        return (np.concatenate(states).astype(np.float32, copy=False),
                np.asarray(actions, dtype=np.int32),
                np.asarray(rewards, dtype=np.float32),
                np.concatenate(next_states).astype(np.float32, copy=False),
                np.asarray(dones, dtype=bool))

    def replay_targets(self, states, actions, rewards, next_states, dones):
        """The y_batch that ``replay`` fits to, for the given minibatch arrays."""
        return self._targets(states, actions, rewards, next_states, dones, self.gamma).numpy()

    def fit_minibatch(self, states, actions, rewards, next_states, dones):
        """One gradient step toward this minibatch's targets: the update ``replay`` makes."""
        self._next_q = None
        self._replay_step(states, actions, rewards, next_states, dones, self.gamma)

    def replay(self):
        """Fit the model once to targets computed from a random minibatch; decay epsilon.

        Does nothing until the memory holds train_start transitions (0 in the
        tutorial); epsilon decays here unless epsilon_decay_at is "remember".
        The same compiled call also evaluates the newest next state, which
        run() acts on next (see ``act``).
        """
        if len(self.memory) < self.train_start:
            return
        upcoming = self.memory[-1][3]
        q = self._replay_then_predict(*self.sample_minibatch(), self.gamma, upcoming)
        self._next_q = (upcoming, q.numpy())
        self._count_toward_target_update("replays")
        if self.hyperparameters.epsilon_decay_at == "replay":
            self._decay_epsilon()

    def load(self, name):
        """Load a saved model, ready both to predict and to keep training."""
        model = model_io.load_model(name, self.state_size, self.action_size)
        self.model = model_io.compile_for_training(model, self.learning_rate, self.hyperparameters)

    def save(self, name):
        model_io.save_model(self.model, name)

    def _reset(self, first: bool):
        # Seed the environment once; later resets continue its random stream.
        state, _ = self.env.reset(seed=self.seed if first else None)
        return np.reshape(state, [1, self.state_size])

    def run(self):
        """Train for EPISODES episodes, replaying after every step that does not end one."""
        self.scores, self.saved_episodes = [], []
        for e in range(self.EPISODES):
            state = self._reset(first=e == 0)
            done = False
            i = 0
            while not done:
                action = self.act(state)
                next_state, reward, terminated, truncated, _ = self.env.step(action)
                # The tutorial's `done`: the pole fell, the cart left, or time ran out.
                done = terminated or truncated
                next_state = np.reshape(next_state, [1, self.state_size])
                reward = self.reward_to_store(reward, terminated, truncated)
                self.remember(state, action, reward, next_state, self.done_to_store(terminated, truncated))
                state = next_state
                i += 1
                if done:
                    print(f"episode: {e}/{self.EPISODES}, score: {i}, e: {self.epsilon:.2}", flush=True)
                    self.scores.append(i)
                    if i == SOLVED_SCORE:
                        print(f"Saving trained model as {self.model_path}", flush=True)
                        self.save(self.model_path)
                        self.saved_episodes.append(e)
                    break
                self.replay()
            self._count_toward_target_update("episodes")
            if any([hook(self, e, i) for hook in self.episode_hooks]):
                break
        return self.scores

    def test(self):
        """Load the saved model and play EPISODES greedy episodes."""
        self.load(self.model_path)
        self.scores = []
        for e in range(self.EPISODES):
            # Seed the environment on the first episode only, as _reset does.
            [i] = play_greedy(self._q_values, [self.env], [self.seed if e == 0 else None])
            print(f"episode: {e}/{self.EPISODES}, score: {i}", flush=True)
            self.scores.append(i)
        return self.scores


_THREADS_VARIABLE = "TF_NUM_INTRAOP_THREADS"  # TensorFlow's own override


def _one_thread_per_operation():
    """Run each TensorFlow operation on one thread, several operations at a time.

    The network's matrices are small (at most 256 x 512): on our 2-core
    benchmark machine, splitting one operation over both cores cost more in
    thread hand-offs than it saved.  One thread per operation, with
    independent operations (the target pass and the training pass) side by
    side, took the loop from ~257 to 305-360 steps per second with the same
    results bit for bit (BENCHMARKS.md).  TensorFlow fixes this when it
    first runs; if it already runs, or TF_NUM_INTRAOP_THREADS is set, its
    setting stays.
    """
    if _THREADS_VARIABLE in os.environ:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:
        pass


def threads_per_operation():
    """The threads each TensorFlow operation runs on in this process, as a number or a description."""
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return threads or os.environ.get(_THREADS_VARIABLE, "TensorFlow's default number of threads")


def _compiled(python_function, input_signature):
    """``python_function`` as a TensorFlow graph, callable with arrays or numbers.

    Calling a ``tf.function``, or even its concrete function, spends ~0.2 ms
    per call in Python matching the arguments to the signature, on a step of
    ~3 ms.  The signature is fixed here, so the call goes straight to the
    concrete function's flat entry point (``_call_flat``, the one its own
    ``__call__`` ends in) with the converted tensors.  Traced on the first
    call, as a ``tf.function`` is.
    """
    function = tf.function(python_function, input_signature=input_signature)
    dtypes = [spec.dtype for spec in input_signature]
    concrete = None

    def call(*args):
        nonlocal concrete
        if concrete is None:
            concrete = function.get_concrete_function()
        tensors = [tf.convert_to_tensor(arg, dtype) for arg, dtype in zip(args, dtypes)]
        return concrete._call_flat(tensors, concrete.captured_inputs)

    return call
