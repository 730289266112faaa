"""Everything around the tutorial's loop: the run, evaluation, checkpoints, logs, run files, summaries and plots.

``train(TrainingSettings(...))`` is what ``cartpole-dqn train`` calls; it may import the core and nothing from
``cartpole_dqn.bench`` or the command line (``tests/test_layers.py`` checks).
"""

from cartpole_dqn.training.run import TrainingResult, TrainingSettings, train

__all__ = ["TrainingResult", "TrainingSettings", "train"]
