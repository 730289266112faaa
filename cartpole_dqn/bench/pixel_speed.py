"""``cartpole-dqn bench pixels``: the cost of the author's lesson 6 (``--preset per-d3qn-pixels``), his calls beside it.

It times, in one process, taking turns round after round:
  * his replay's network calls on one minibatch of 32 stacks: ``predict`` of the states, of the next states,
    the target network's ``predict`` of the next states, then ``fit`` (his ``metrics=["accuracy"]`` included),
    on his network as he lays it out (``channels_first``, float64 stacks, Keras 3 running it on the CPU);
  * the package's whole ``replay()`` on the same memory: the prioritized draw, the stacks unpacked from bits,
    one compiled call for targets, errors and the gradient step, the new priorities;
then the training loop itself (``DQNAgent.run``: frames rendered and prepared, acting, storing, replaying) in
seconds per environment step.  Each is warmed up first.  The load average is printed with each round: the
figures hold only for the load they were measured under.
"""

from __future__ import annotations

import os
import random
import time

import numpy as np

BATCH = 32


def his_layout_network(agent):
    """The lesson's network as his code lays it out: stacks (4, 160, 240), convolutions channels_first."""
    import keras

    from cartpole_dqn.dueling import dueling_q_values
    from cartpole_dqn.pixels import COLS, CONVOLUTIONS, REM_STEP, ROWS

    inputs = keras.Input((REM_STEP, ROWS, COLS))
    x = inputs
    for filters, size, stride in CONVOLUTIONS:
        x = keras.layers.Conv2D(filters, size, strides=stride, activation="relu", data_format="channels_first")(x)
    x = keras.layers.Flatten()(x)
    for units in (512, 256, 64):
        x = keras.layers.Dense(units, activation="relu", kernel_initializer="he_uniform")(x)
    model = keras.Model(inputs, dueling_q_values(x, agent.action_size, "he_uniform", "batch"))
    hp = agent.hyperparameters
    optimizer = keras.optimizers.RMSprop(learning_rate=hp.learning_rate, rho=hp.rho, epsilon=hp.optimizer_epsilon)
    model.compile(loss="mean_squared_error", optimizer=optimizer, metrics=["accuracy"])
    return model


def his_calls(model, target_model, states, next_states):
    """His replay's four network calls on one minibatch (the per-sample target loop between them is left out)."""
    target = model.predict(states, verbose=0)
    model.predict(next_states, verbose=0)
    target_model.predict(next_states, verbose=0)
    model.fit(states, target, batch_size=BATCH, verbose=0)


def fill_with_random_play(agent, steps, seed):
    """Random actions into the agent's memory, as ``run`` stores them, with no replay."""

    def reset(seed=None):
        return np.reshape(agent.env.reset(seed=seed)[0], (1, *agent.state_shape))

    state = reset(seed)
    for _ in range(steps):
        action = random.randrange(agent.action_size)
        next_state, reward, terminated, truncated, _ = agent.env.step(action)
        next_state = np.reshape(next_state, (1, *agent.state_shape))
        stored = agent.reward_to_store(reward, terminated, truncated), agent.done_to_store(terminated, truncated)
        agent.remember(state, action, stored[0], next_state, stored[1])
        state = reset() if terminated or truncated else next_state


def run_pixel_speed(rounds: int, replays: int, steps: int, seed: int, out=print) -> None:
    """Time ``replays`` replays of each side for ``rounds`` rounds, then ``steps`` steps of the training loop."""
    import tensorflow as tf

    from cartpole_dqn.bench.speed import scratch_agent, time_training_loop
    from cartpole_dqn.hyperparameters import PRESETS

    out(f"GPUs TensorFlow sees: {len(tf.config.list_physical_devices('GPU'))}")
    with scratch_agent(PRESETS["per-d3qn-pixels"], seed) as agent:
        fill_with_random_play(agent, 200, seed)
        his, his_target = his_layout_network(agent), his_layout_network(agent)
        minibatch = agent.memory.sample(BATCH).minibatch
        # His stacks: float64, frames first.
        states, next_states = (
            np.moveaxis(s, -1, 1).astype(np.float64) for s in (minibatch.states, minibatch.next_states)
        )
        his_calls(his, his_target, states, next_states)
        agent.replay()  # both sides traced and built before timing
        for round_ in range(1, rounds + 1):
            started = time.perf_counter()
            for _ in range(replays):
                his_calls(his, his_target, states, next_states)
            his_seconds = (time.perf_counter() - started) / replays
            started = time.perf_counter()
            for _ in range(replays):
                agent.replay()
            ours = (time.perf_counter() - started) / replays
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            out(
                f"round {round_}: his 3 predicts + fit {his_seconds:.3f} s; package's replay() {ours:.3f} s; "
                f"{his_seconds / ours:.2f}x; load {load}"
            )
        loop = time_training_loop(agent, steps)
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        out(
            f"training loop: {steps} steps in {loop.wall:.1f} s, {loop.wall / steps:.3f} s a step "
            f"(CPU {loop.cpu / steps:.3f} s); load {load}"
        )
