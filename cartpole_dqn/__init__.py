"""The classic Keras deep Q-learning CartPole tutorial as a package.

``DQNAgent``, ``OurModel`` and ``prepare_process`` import TensorFlow, so they load on first use:
``import cartpole_dqn`` and ``cartpole-dqn --help`` stay instant.
"""

from cartpole_dqn.version import __version__

__all__ = ["__version__", "DQNAgent", "OurModel", "Hyperparameters", "prepare_process"]


def __getattr__(name):
    if name == "DQNAgent":
        from cartpole_dqn.agent import DQNAgent

        return DQNAgent
    if name == "OurModel":
        from cartpole_dqn.model import OurModel

        return OurModel
    if name == "prepare_process":
        from cartpole_dqn.process import prepare_process

        return prepare_process
    if name == "Hyperparameters":
        from cartpole_dqn.hyperparameters import Hyperparameters

        return Hyperparameters
    raise AttributeError(f"module 'cartpole_dqn' has no attribute {name!r}")
