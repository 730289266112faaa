"""``cartpole-dqn bench sb3``: the package's training loop beside Stable-Baselines3's DQN.

Two worker processes, one training with ``DQNAgent.run`` and one with
Stable-Baselines3's ``DQN``, are warmed up and then take turns: the package
runs ``steps`` environment steps, then SB3 runs as many, for ``rounds``
rounds, while the other waits.  Alternating in one run keeps a loaded machine
from favouring one side; separate processes keep TensorFlow's and PyTorch's
thread pools apart.

SB3 is configured as the tutorial's recipe, as far as it allows:

* the network: Dense 512-256-64 with ReLU and, as in the tutorial, Dropout
  after each hidden layer (SB3's ``QNetwork`` has none: :func:`_dropout_policy`
  adds it; the target pass runs without it, as the tutorial's ``predict``);
* minibatch, learning rate, Adam's epsilon, gamma and memory size from the
  hyperparameters; one gradient step after every environment step
  (``train_freq=1, gradient_steps=1``), from the first step on, or after every
  ``replay_every``-th (SB3 counts steps across episodes, the agent within one);
* no separate target network: ``target_update_interval=1, tau=1`` copies the
  online weights into SB3's target network before every gradient step, so the
  next states are valued by the network being trained, as in the tutorial;
* epsilon decays by ``epsilon_decay`` per step from ``epsilon`` to
  ``epsilon_min``, as the tutorial's does per replay.

What stays SB3's own: the Huber loss on the chosen action's Q-value (the
tutorial: mean squared error over both outputs), gradient-norm clipping at 10,
and SB3's replay buffer and vectorised environment wrapper.

Threads: TensorFlow runs one thread per operation and, by default, as many
operations at a time as there are cores (as the command line sets it);
PyTorch runs one operation at a time, on ``torch.set_num_threads(sb3_threads)``
threads: 1 by default, one thread per operation as TensorFlow's.  PyTorch's
own default, a thread per core, collapses as soon as the machine has other
work: its threads spin waiting for each other (on 2 cores at load 5-10,
2 threads gave SB3 3-6 steps/s, 1 thread 80-98).
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import time
from dataclasses import dataclass

from cartpole_dqn.bench.workers import available_cores, start_worker
from cartpole_dqn.errors import UserError, install_hint

INSTALL_SB3 = install_hint("sb3")
WARMUP_STEPS = 200  # as the speed benchmark's: more than a minibatch, tracing and first calls left out


def check_sb3_installed() -> None:
    """A one-line UserError unless Stable-Baselines3 (and so PyTorch) can be imported here."""
    for name in ("stable_baselines3", "torch"):
        try:
            found = importlib.util.find_spec(name) is not None
        except ValueError:  # a module set to None in sys.modules
            found = False
        if not found:
            raise UserError(f"bench sb3 needs Stable-Baselines3, which is not installed here: {INSTALL_SB3}")


@dataclass
class Turn:
    """One timed run of one side: wall and CPU seconds, environment steps and gradient steps taken."""

    wall: float
    cpu: float
    steps: int
    gradient_steps: int


# -- the two sides, each made and run inside its own worker process -------------


class PackageSide:
    """``DQNAgent.run`` as ``bench`` times it: the tutorial's loop, a replay after every step, no rendering."""

    name = "package"

    def __init__(self, hyperparameters, seed: int, sb3_threads: int):
        start_worker()
        from cartpole_dqn.bench.speed import scratch_agent

        self._scratch = contextlib.ExitStack()  # the agent's scratch folder lives as long as this side
        self.agent = self._scratch.enter_context(scratch_agent(hyperparameters, seed))

    def threads(self) -> str:
        from cartpole_dqn.compiled import threads_per_operation

        return f"TensorFlow: {threads_per_operation()} thread(s) per operation, inter-op {_inter_op_threads()}"

    def run(self, steps: int) -> Turn:
        from cartpole_dqn.bench.speed import time_training_loop

        iterations = self.agent.model.optimizer.iterations
        before = int(iterations.numpy())
        timing = time_training_loop(self.agent, steps)
        return Turn(timing.wall, timing.cpu, steps, int(iterations.numpy()) - before)


def _inter_op_threads() -> str:
    import tensorflow as tf

    threads = tf.config.threading.get_inter_op_parallelism_threads()
    return str(threads) if threads else f"TensorFlow's default ({available_cores()} here)"


class SB3Side:
    """Stable-Baselines3's ``DQN`` configured as the module docstring says."""

    name = "SB3"

    def __init__(self, hyperparameters, seed: int, sb3_threads: int):
        import torch
        from stable_baselines3 import DQN
        from stable_baselines3.common.logger import Logger

        from cartpole_dqn.environment import make_env

        torch.set_num_threads(sb3_threads)
        hp = hyperparameters
        self.model = DQN(
            _dropout_policy(hp.dropout),
            make_env("none"),
            learning_rate=hp.learning_rate,
            buffer_size=hp.memory_size,
            learning_starts=0,
            batch_size=hp.batch_size,
            tau=1.0,
            gamma=hp.gamma,
            train_freq=hp.replay_every,
            gradient_steps=1,
            target_update_interval=1,
            policy_kwargs={
                "net_arch": [512, 256, 64],
                "activation_fn": torch.nn.ReLU,
                "optimizer_kwargs": {"eps": hp.optimizer_epsilon},
            },
            seed=seed,
            device="cpu",
            verbose=0,
        )
        model = self.model
        # A logger with no outputs: SB3's default makes an empty folder in the temp directory at every learn().
        model.set_logger(Logger(folder=None, output_formats=[]))
        # The tutorial's exponential decay per step, in place of SB3's linear schedule.
        model.exploration_schedule = lambda _progress_remaining: max(
            hp.epsilon_min, hp.epsilon * hp.epsilon_decay**model.num_timesteps
        )

    def threads(self) -> str:
        import torch

        return f"PyTorch: torch.set_num_threads({torch.get_num_threads()})"

    def run(self, steps: int) -> Turn:
        before = self.model._n_updates
        wall, cpu = time.perf_counter(), time.process_time()
        self.model.learn(total_timesteps=steps, reset_num_timesteps=False)
        return Turn(time.perf_counter() - wall, time.process_time() - cpu, steps, self.model._n_updates - before)


def _dropout_policy(rate: float):
    """SB3's DQNPolicy with Dropout(``rate``) after each hidden ReLU of both of its Q-networks (none for 0)."""
    from stable_baselines3.dqn.policies import DQNPolicy
    from torch import nn

    class DropoutDQNPolicy(DQNPolicy):
        def make_q_net(self):
            q_net = super().make_q_net()
            if rate:
                layers = []
                for layer in q_net.q_net:
                    layers.append(layer)
                    if isinstance(layer, nn.ReLU):
                        layers.append(nn.Dropout(rate))
                q_net.q_net = nn.Sequential(*layers)
            return q_net

    return DropoutDQNPolicy


def _serve(side_class, settings, connection) -> None:
    """A worker's life: make its side, say which threads it uses, then run each step count it receives."""
    try:
        side = side_class(*settings)
        connection.send(side.threads())
        while (steps := connection.recv()) is not None:
            connection.send(side.run(steps))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the main process reports it
        pass


class _Worker:
    """One side in its own process, run a step count at a time."""

    def __init__(self, context, side_class, settings):
        self.name = side_class.name
        self._connection, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(side_class, settings, theirs), daemon=True)
        self._process.start()
        theirs.close()

    def threads(self) -> str:
        return self._receive()

    def run(self, steps: int) -> Turn:
        self._connection.send(steps)
        return self._receive()

    def _receive(self):
        try:
            return self._connection.recv()
        except EOFError:
            raise RuntimeError(f"the {self.name} worker process ended (exit code {self._process.exitcode})") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.terminate()


def run_against_sb3(
    hyperparameters, steps: int, rounds: int, seed: int, sb3_threads: int = 1, out=print
) -> tuple[float, float]:
    """Time both sides alternately for ``rounds`` rounds of ``steps`` steps; print each round and the summary line.

    Returns the package's and SB3's steps per second over all rounds.
    """
    check_sb3_installed()
    settings = (hyperparameters, seed, sb3_threads)
    context = multiprocessing.get_context("spawn")  # a fork of a process running TensorFlow can hang
    out(
        f"against SB3: the package's training loop and Stable-Baselines3's DQN, {rounds} rounds of {steps} "
        f"environment steps each, alternating, seed {seed}"
    )
    workers = []
    try:
        for side_class in (PackageSide, SB3Side):
            workers.append(_Worker(context, side_class, settings))
        out(f"threads: {'; '.join(worker.threads() for worker in workers)}")
        out(f"warm-up: {WARMUP_STEPS} steps of each, not timed")
        for worker in workers:
            worker.run(WARMUP_STEPS)
        totals = {worker.name: Turn(0.0, 0.0, 0, 0) for worker in workers}
        for round_number in range(1, rounds + 1):
            rates = []
            for worker in workers:
                turn = worker.run(steps)
                total = totals[worker.name]
                totals[worker.name] = Turn(
                    total.wall + turn.wall,
                    total.cpu + turn.cpu,
                    total.steps + turn.steps,
                    total.gradient_steps + turn.gradient_steps,
                )
                rates.append(turn.steps / turn.wall)
                out(
                    f"round {round_number} {worker.name:>7}: {turn.steps / turn.wall:6.1f} steps/s "
                    f"({1000 * turn.wall / turn.steps:.2f} ms/step, CPU {1000 * turn.cpu / turn.steps:.2f} ms/step, "
                    f"{turn.gradient_steps} gradient steps)"
                )
            out(f"round {round_number}   ratio: {rates[0] / rates[1]:.2f}")
    finally:
        for worker in workers:
            worker.close()
    package, sb3 = (totals[name].steps / totals[name].wall for name in ("package", "SB3"))
    # CPU seconds per step (all threads): on a machine busy with other work, less at the mercy of how the
    # scheduler shares the cores than wall time is.
    package_cpu, sb3_cpu = (totals[name].cpu / totals[name].steps for name in ("package", "SB3"))
    out(
        f"against-sb3: package_steps_per_s={package:.1f} sb3_steps_per_s={sb3:.1f} ratio={package / sb3:.3f} "
        f"package_cpu_ms={1000 * package_cpu:.3f} sb3_cpu_ms={1000 * sb3_cpu:.3f} "
        f"cpu_ratio={sb3_cpu / package_cpu:.3f} "
        f"rounds={rounds} steps={steps}"
    )
    return package, sb3
