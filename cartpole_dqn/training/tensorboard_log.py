"""Optional TensorBoard scalars for training (``train --tensorboard DIR``).

An episode hook writing, per episode, the score, epsilon and the replay
memory's length; watch them with ``tensorboard --logdir DIR``.

``tf.summary.scalar`` lives in the separate ``tensorboard`` package, which
TensorFlow 2.21 no longer installs.  The events are written here with
TensorFlow's own ``tf.summary.write`` and the metadata TensorBoard's scalar
plugin reads, so writing them needs nothing beyond TensorFlow; only viewing
them needs ``pip install tensorboard``.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.framework.summary_pb2 import DATA_CLASS_SCALAR, SummaryMetadata

SCALAR_METADATA = SummaryMetadata(
    plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"), data_class=DATA_CLASS_SCALAR
)


class TensorBoardLog:
    """Episode hook: one point per episode on the ``score``, ``epsilon`` and ``memory`` charts."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.writer = None  # made at the first episode: no empty event file when none finishes

    def __call__(self, agent, episode, score):
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir))
        values = {"score": score, "epsilon": agent.epsilon, "memory": len(agent.memory)}
        with self.writer.as_default(step=episode):
            for tag, value in values.items():
                tf.summary.write(tag, tf.constant(value, tf.float32), metadata=SCALAR_METADATA)
        self.writer.flush()
        return False  # never asks training to stop
