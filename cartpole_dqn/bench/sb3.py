"""``cartpole-dqn bench sb3``: the package's training loop beside Stable-Baselines3's DQN, twice.

Three worker processes are warmed up and then take turns
(:mod:`cartpole_dqn.bench.turns`): one trains with ``DQNAgent.run``, one with
SB3's ``DQN`` doing the same work as the tutorial's recipe, one with SB3's
``DQN`` as a reader who picks SB3 gets it; each runs ``steps`` environment
steps per turn, for ``rounds`` rounds.

SB3 doing the same work (side "SB3") is configured as the tutorial's recipe, as far as it allows:

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

SB3's stock policy (side "SB3-stock"): ``"MlpPolicy"`` with the same 512-256-64
ReLU layers and no Dropout, every other setting as the side above.

Threads: TensorFlow runs one thread per operation and, by default, as many
operations at a time as there are cores (as the command line sets it);
PyTorch runs one operation at a time, on ``torch.set_num_threads(sb3_threads)``
threads: 1 by default, one thread per operation as TensorFlow's; 0 leaves
PyTorch's own default, a thread per core.  That default collapses as soon as
the machine has other work: its threads spin waiting for each other (on 2
cores at load 5-10, 2 threads gave SB3 3-6 steps/s, 1 thread 80-98).
"""

from __future__ import annotations

import contextlib
import importlib.util
import time

from cartpole_dqn.bench.turns import Turn, take_turns
from cartpole_dqn.bench.workers import available_cores, start_worker
from cartpole_dqn.errors import UserError, install_hint

INSTALL_SB3 = install_hint("sb3")


def check_sb3_installed() -> None:
    """A one-line UserError unless Stable-Baselines3 (and so PyTorch) can be imported here."""
    for name in ("stable_baselines3", "torch"):
        try:
            found = importlib.util.find_spec(name) is not None
        except ValueError:  # a module set to None in sys.modules
            found = False
        if not found:
            raise UserError(f"bench sb3 needs Stable-Baselines3, which is not installed here: {INSTALL_SB3}")


# -- the sides, each made and run inside its own worker process -------------


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
    """Stable-Baselines3's ``DQN`` doing the tutorial's work, as the module docstring says."""

    name = "SB3"

    @staticmethod
    def policy(hyperparameters):
        return _dropout_policy(hyperparameters.dropout)

    def __init__(self, hyperparameters, seed: int, sb3_threads: int):
        import torch
        from stable_baselines3 import DQN
        from stable_baselines3.common.logger import Logger

        from cartpole_dqn.environment import make_env

        self._own_default = not sb3_threads
        if sb3_threads:
            torch.set_num_threads(sb3_threads)
        hp = hyperparameters
        self.model = DQN(
            self.policy(hp),
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

        threads = torch.get_num_threads()
        if self._own_default:
            return f"{self.name}: PyTorch's own default, {threads} thread(s)"
        return f"{self.name}: PyTorch: torch.set_num_threads({threads})"

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


class SB3StockSide(SB3Side):
    """Stable-Baselines3's ``DQN`` with its stock ``MlpPolicy``: the same layers, no Dropout."""

    name = "SB3-stock"

    @staticmethod
    def policy(hyperparameters):
        return "MlpPolicy"


SIDES = (PackageSide, SB3Side, SB3StockSide)


def run_against_sb3(hyperparameters, steps: int, rounds: int, seed: int, sb3_threads: int = 1, out=print) -> dict:
    """Time the three sides in turns for ``rounds`` rounds of ``steps`` steps; print each turn and the summary line.

    ``sb3_threads`` 0 leaves PyTorch its own default.  Returns each side's steps per second over all rounds, by name.
    """
    check_sb3_installed()
    out(
        f"against SB3: the package's training loop, Stable-Baselines3's DQN doing the same work (SB3) and with its "
        f"stock MlpPolicy (SB3-stock), {rounds} rounds of {steps} environment steps each, in turns, seed {seed}"
    )
    totals = take_turns(SIDES, (hyperparameters, seed, sb3_threads), steps, rounds, out)
    package, sb3, stock = (totals[side.name] for side in SIDES)
    # CPU seconds per step (all threads): on a machine busy with other work, less at the mercy of how the
    # scheduler shares the cores than wall time is.
    out(
        f"against-sb3: package_steps_per_s={package.rate:.1f} sb3_steps_per_s={sb3.rate:.1f} "
        f"sb3_stock_steps_per_s={stock.rate:.1f} ratio={package.rate / sb3.rate:.3f} "
        f"stock_ratio={package.rate / stock.rate:.3f} package_cpu_ms={1000 * package.cpu_per_step:.3f} "
        f"sb3_cpu_ms={1000 * sb3.cpu_per_step:.3f} sb3_stock_cpu_ms={1000 * stock.cpu_per_step:.3f} "
        f"cpu_ratio={sb3.cpu_per_step / package.cpu_per_step:.3f} "
        f"stock_cpu_ratio={stock.cpu_per_step / package.cpu_per_step:.3f} "
        f"sb3_threads={sb3_threads or 'default'} rounds={rounds} steps={steps}"
    )
    return {name: turn.rate for name, turn in totals.items()}
