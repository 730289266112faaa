"""The cost of the author's lesson 6 (``--preset per-d3qn-pixels``) on this machine, and his calls beside it.

``python -m cartpole_dqn.bench.pixel_speed`` times, in one process, taking turns round after round:
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

import argparse
import os
import random
import time

import numpy as np

from cartpole_dqn.process import import_tensorflow_quietly

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


def fill_with_random_play(agent, steps):
    """Random actions into the agent's memory, as ``run`` stores them, with no replay."""
    state = agent._reset(first=True)
    for _ in range(steps):
        action = random.randrange(agent.action_size)
        next_state, reward, terminated, truncated, _ = agent.env.step(action)
        next_state = np.reshape(next_state, (1, *agent.state_shape))
        stored = agent.reward_to_store(reward, terminated, truncated), agent.done_to_store(terminated, truncated)
        agent.remember(state, action, stored[0], next_state, stored[1])
        state = agent._reset(first=False) if terminated or truncated else next_state


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cartpole_dqn.bench.pixel_speed", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="turns of his calls and the package's replay")
    parser.add_argument("--replays", type=int, default=5, help="replays timed per side and round")
    parser.add_argument("--steps", type=int, default=40, help="environment steps of the timed training loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import_tensorflow_quietly()
    import tensorflow as tf

    from cartpole_dqn.bench.speed import scratch_agent, time_training_loop
    from cartpole_dqn.hyperparameters import PRESETS

    print(f"GPUs TensorFlow sees: {len(tf.config.list_physical_devices('GPU'))}", flush=True)
    with scratch_agent(PRESETS["per-d3qn-pixels"], args.seed) as agent:
        fill_with_random_play(agent, 200)
        his, his_target = his_layout_network(agent), his_layout_network(agent)
        minibatch = agent.memory.sample(BATCH).minibatch
        # His stacks: float64, frames first.
        states, next_states = (
            np.moveaxis(s, -1, 1).astype(np.float64) for s in (minibatch.states, minibatch.next_states)
        )
        his_calls(his, his_target, states, next_states)
        agent.replay()  # both sides traced and built before timing
        for round_ in range(1, args.rounds + 1):
            started = time.perf_counter()
            for _ in range(args.replays):
                his_calls(his, his_target, states, next_states)
            his_seconds = (time.perf_counter() - started) / args.replays
            started = time.perf_counter()
            for _ in range(args.replays):
                agent.replay()
            ours = (time.perf_counter() - started) / args.replays
            load = " ".join(f"{value:.2f}" for value in os.getloadavg())
            print(
                f"round {round_}: his 3 predicts + fit {his_seconds:.3f} s; package's replay() {ours:.3f} s; "
                f"{his_seconds / ours:.2f}x; load {load}",
                flush=True,
            )
        loop = time_training_loop(agent, args.steps)
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(
            f"training loop: {args.steps} steps in {loop.wall:.1f} s, {loop.wall / args.steps:.3f} s a step "
            f"(CPU {loop.cpu / args.steps:.3f} s); load {load}",
            flush=True,
        )


if __name__ == "__main__":
    main()
