"""The tutorial's ``act`` and ``replay`` as written: the yardstick, not the package's path.

``DQNAgent.act`` and ``DQNAgent.replay`` compute the same numbers through
compiled calls.  This module keeps the tutorial's per-sample arithmetic, with
one ``model.predict`` per state and per next state and one ``fit``, so that
tests can show the two agree and the benchmark can time the difference; and,
for the ``ddqn`` preset, the Double DQN targets of the author's next lesson as
his script computes them.  Never used for training by the package itself.
"""

from __future__ import annotations

import random
from collections import deque

import numpy as np

from cartpole_dqn.agent import DQNAgent


def tutorial_targets(model, minibatch, gamma):
    """x_batch and y_batch as the tutorial's per-sample loop builds them.

    ``minibatch`` is a list of (state, action, reward, next_state, done)
    with states of shape (1, state_size), as ``DQNAgent.remember`` stores them.
    """
    x_batch, y_batch = [], []
    for state, action, reward, next_state, done in minibatch:
        y_target = model.predict(state, verbose=0)
        if done:
            y_target[0][action] = reward
        else:
            best_next = np.max(model.predict(next_state, verbose=0)[0])
            y_target[0][action] = reward + gamma * best_next
        x_batch.append(state[0])
        y_batch.append(y_target[0])
    return np.array(x_batch), np.array(y_batch)


def tutorial_replay(agent, minibatch):
    """The tutorial's whole replay on ``agent``: per-sample targets, one fit, epsilon decay."""
    x_batch, y_batch = tutorial_targets(agent.model, minibatch, agent.gamma)
    agent.model.fit(x_batch, y_batch, batch_size=len(x_batch), verbose=0)
    if agent.epsilon > agent.epsilon_min:
        agent.epsilon *= agent.epsilon_decay


def ddqn_lesson_targets(model, target_model, minibatch, gamma):
    """x_batch and y_batch as the author's next lesson, Cartpole_DDQN_TF2.py, builds them.

    As that script's replay: one ``predict`` of the online network on the
    states and one on the next states, one of the target network on the next
    states, then a correction per sample.  For a transition that did not end
    the episode, the online network picks the next action and the target
    network values it (Double DQN).
    """
    states = np.concatenate([transition[0] for transition in minibatch])
    next_states = np.concatenate([transition[3] for transition in minibatch])
    target = model.predict(states, verbose=0)
    target_next = model.predict(next_states, verbose=0)
    target_val = target_model.predict(next_states, verbose=0)
    for i, (_, action, reward, _, done) in enumerate(minibatch):
        if done:
            target[i][action] = reward
        else:
            a = np.argmax(target_next[i])
            target[i][action] = reward + gamma * target_val[i][a]
    return states, target


class TutorialAgent(DQNAgent):
    """The package's agent with the tutorial's own ``act`` and ``replay``."""

    def act(self, state, q_values=None):
        if np.random.random() <= self.epsilon:
            return random.randrange(self.action_size)
        return int(np.argmax(self.model.predict(state, verbose=0)))

    def replay(self):
        if not isinstance(self.memory, deque):
            raise TypeError("the tutorial's replay samples a deque uniformly, not a prioritized memory")
        tutorial_replay(self, random.sample(self.memory, min(len(self.memory), self.batch_size)))
