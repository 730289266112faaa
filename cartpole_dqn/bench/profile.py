"""``cartpole-dqn bench profile``: where one step of the training loop spends its time.

After the speed benchmark's warm-up, one process times, per call:

* the loop step itself (``DQNAgent.run``, per environment step);
* the loop around the replay's compiled call: the same loop with that call
  answered at once with fixed Q-values;
* its parts outside TensorFlow: the environment's step, ``act`` with the
  Q-values known, ``remember``, and the minibatch (positions drawn as
  ``random.sample`` draws them, the rows gathered from the memory's arrays);
* the replay's compiled call as the loop makes it (``train_step_then_q``);
* the parts of that call, each compiled on its own with the agent's network:
  the inference forward passes (states and next states together, as the call
  makes them, and each alone), the call's matrix products alone (those of
  its three forward passes and of the backward pass, on the same shapes,
  for a plain Dense stack), the Dropout layers alone (their masks and
  their product), the training forward pass with Dropout, forward plus
  backward, Adam's update of the 8 weight arrays, and the forward pass of the
  one state the loop acts on next.

The parts are timed in turn for several rounds, so a machine's changing load
spreads over all of them.  On their own they add up to more wall time than
the call: inside it, TensorFlow runs independent parts (the target pass and
the training pass) side by side.  Timing Adam on its own updates the
network, so the profile's agent is thrown away afterwards.
"""

from __future__ import annotations

import contextlib
import random

import keras
import numpy as np
import tensorflow as tf

from cartpole_dqn.bench.speed import (
    WARMUP_STEPS,
    Timing,
    replay_schedule,
    scratch_agent,
    settings_line,
    time_training_loop,
)
from cartpole_dqn.compiled import compile_function, threads_per_operation

ROUNDS = 5


def _parts(agent):
    """(name, call) of each part of a replay step, as zero-argument callables on a fixed minibatch."""
    model, network = agent.model, agent.network
    minibatch = agent.sample_minibatch()
    states, next_states = minibatch.states, minibatch.next_states
    upcoming = next_states[:1]
    targets = network.targets(minibatch, agent.gamma)
    rows = tf.TensorSpec([None, agent.state_size], tf.float32)
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    hidden = [tf.ones([len(states), int(layer.input.shape[-1])]) for layer in dropouts]
    variables = model.trainable_variables
    zero_gradients = [tf.zeros_like(variable) for variable in variables]

    def forward(s):
        return model(s, training=False)

    def training_forward(s):
        return model(s, training=True)

    def forward_and_backward(s, y):
        with tf.GradientTape() as tape:
            loss = model.loss(y, model(s, training=True))
        return tape.gradient(loss, variables)

    def dropout_layers():
        return [layer(x, training=True) for layer, x in zip(dropouts, hidden, strict=True)]

    def adam():
        model.optimizer.apply_gradients(zip(zero_gradients, variables, strict=True))
        return tf.constant(0)

    kernels = [variable for variable in variables if len(variable.shape) == 2]
    products_call = compile_function(lambda s, n, u: _matrix_products(kernels, s, n, u), [rows, rows, rows])
    forward_call = compile_function(forward, [rows])
    both_forward = compile_function(lambda s, n: model(tf.concat([s, n], axis=0), training=False), [rows, rows])
    training_call = compile_function(training_forward, [rows])
    backward_call = compile_function(forward_and_backward, [rows, tf.TensorSpec([None, agent.action_size])])
    dropout_call = compile_function(dropout_layers, [])
    adam_call = compile_function(adam, [])
    env = agent.env
    env.reset(seed=0)

    def environment_step():
        _, _, terminated, truncated, _ = env.step(random.randrange(agent.action_size))
        if terminated or truncated:
            env.reset()

    state, known_q = next_states[:1], np.zeros((1, agent.action_size), np.float32)
    transition = agent.memory[-1]

    parts = [
        ("environment step (CartPole-v1)", environment_step),
        ("act (epsilon-greedy, Q-values known)", lambda: agent.act(state, known_q)),
        ("remember", lambda: agent.remember(*transition)),
        ("minibatch: sample + arrays", agent.sample_minibatch),
        ("compiled call (train_step_then_q)", lambda: network.train_step_then_q(minibatch, agent.gamma, upcoming)),
        ("  forward, states + next states (inference)", lambda: both_forward(states, next_states)),
        ("  forward, states alone (inference)", lambda: forward_call(states)),
        ("  forward, next states alone (inference)", lambda: forward_call(next_states)),
        ("  matrix products alone", lambda: products_call(states, next_states, upcoming)),
        ("  Dropout layers alone (masks and product)", dropout_call),
        ("  training forward with Dropout", lambda: training_call(states)),
        ("  training forward + backward", lambda: backward_call(states, targets)),
        ("  Adam update of the weights", adam_call),
        ("  forward, the next state to act on", lambda: forward_call(upcoming)),
    ]
    if not dropouts:
        parts = [(name, call) for name, call in parts if "Dropout" not in name]
    if any(a.shape[1] != b.shape[0] for a, b in zip(kernels, kernels[1:], strict=False)):  # not a plain Dense stack
        parts = [(name, call) for name, call in parts if "matrix products" not in name]
    return parts


def _matrix_products(kernels, states, next_states, upcoming):
    """The replay call's matrix products alone: its inference pass on states and next states, its training
    pass on states and the backward pass through it (each kernel's gradient, and the gradient of each layer's
    input but the first's), and the pass on the state acted on next."""
    passes = []
    for x in (tf.concat([states, next_states], axis=0), states, upcoming):
        inputs = []
        for kernel in kernels:
            inputs.append(x)
            x = tf.matmul(x, kernel)
        passes.append((inputs, x))
    inputs, gradient = passes[1]
    results = [passes[0][1], passes[2][1]]
    for layer in reversed(range(len(kernels))):
        results.append(tf.matmul(inputs[layer], gradient, transpose_a=True))
        if layer:
            gradient = tf.matmul(gradient, kernels[layer], transpose_b=True)
    return results


def run_profile(hyperparameters, calls: int, seed: int, out=print) -> None:
    """Time the loop step and each part of it (see the module docstring); print the table and the ``profile:`` line."""
    out(f"profile: {settings_line(hyperparameters)}, {replay_schedule(hyperparameters)}, no rendering, seed {seed}")
    with scratch_agent(hyperparameters, seed) as agent:
        out(f"threads: {threads_per_operation()} per TensorFlow operation; batch {agent.batch_size}")
        out(f"warm-up: {WARMUP_STEPS} steps of the loop and one call of each part, not timed")
        time_training_loop(agent, WARMUP_STEPS)
        parts = _parts(agent)
        for _, call in parts:
            call()
        loop, around = Timing(), Timing()
        timings = {name: Timing() for name, _ in parts}
        for _ in range(ROUNDS):
            _add(loop, time_training_loop(agent, calls))
            with _replay_call_answered_at_once(agent):
                _add(around, time_training_loop(agent, calls))
            for name, call in parts:
                with timings[name].add():
                    for _ in range(calls):
                        call()
    per_call = ROUNDS * calls
    loop_wall, loop_cpu = 1000 * loop.wall / per_call, 1000 * loop.cpu / per_call
    out(
        f"{'part (' + str(ROUNDS) + ' rounds of ' + str(calls) + ' calls)':<46} {'wall ms':>8} {'CPU ms':>8} "
        f"{'% of step (wall)':>16}"
    )
    out(f"{'loop step (DQNAgent.run, per environment step)':<46} {loop_wall:8.3f} {loop_cpu:8.3f} {100:15.0f}%")
    around_wall, around_cpu = 1000 * around.wall / per_call, 1000 * around.cpu / per_call
    out(
        f"{'loop around the compiled call (call skipped)':<46} {around_wall:8.3f} {around_cpu:8.3f} "
        f"{100 * around_wall / loop_wall:15.0f}%"
    )
    outside = loop_wall
    for name, timing in timings.items():
        wall, cpu = 1000 * timing.wall / per_call, 1000 * timing.cpu / per_call
        if not name.startswith(" "):
            outside -= wall
        out(f"{name:<46} {wall:8.3f} {cpu:8.3f} {100 * wall / loop_wall:15.0f}%")
    rest = "rest of the loop: Python, hooks, episode line"
    out(f"{rest:<46} {outside:8.3f} {'':>8} {100 * outside / loop_wall:15.0f}%")
    call_wall = 1000 * timings["compiled call (train_step_then_q)"].wall / per_call
    out(
        f"profile: loop_ms={loop_wall:.3f} around_call_ms={around_wall:.3f} call_ms={call_wall:.3f} "
        f"call_share={call_wall / loop_wall:.3f}"
    )


def _add(total: Timing, timing: Timing) -> None:
    total.wall, total.cpu = total.wall + timing.wall, total.cpu + timing.cpu


@contextlib.contextmanager
def _replay_call_answered_at_once(agent):
    """The replay's compiled call (its arguments' conversion, the graph, the answer's) replaced by fixed Q-values
    (and, for a prioritized memory, errors): what the loop costs around it.  Training goes on without learning
    meanwhile; a target network's separate update call, if any, stays in."""
    network = agent.network
    fixed = np.zeros((1, agent.action_size), np.float32)
    network.train_step_then_q = lambda minibatch, gamma, upcoming: fixed
    network.prioritized_train_step_then_q = lambda minibatch, gamma, upcoming, weights=None: (
        fixed,
        np.ones(len(minibatch.actions), np.float32),
    )
    try:
        yield
    finally:
        del network.train_step_then_q, network.prioritized_train_step_then_q  # the class's methods again
