"""Record played episodes as an animated GIF, without a window.

``recording_env`` makes CartPole draw each step into an off-screen
``rgb_array`` frame; ``GifRecorder`` (a gymnasium wrapper) keeps a reduced
copy of the frames and ``save`` writes them with Pillow.  With
``--render human`` the same frames are also shown in a window.

The GIF is kept small and quick to make.  GIF stores only the part of each
frame that changed, so one balanced 500-step episode is already small
(docs/training-and-evaluation.md gives the size of its example); what would
grow without bound is a long test, 20 episodes being 10,000 steps:

* at most ``MAX_FRAMES`` frames are kept (about one whole 500-step episode);
  later steps and episodes are played but not recorded;
* every ``FRAME_SKIP``-th step is kept, shown for FRAME_SKIP / 50 s, so the
  animation still plays in real time (CartPole runs at 50 steps per second);
* frames are scaled by ``SCALE`` (600x400 becomes 300x200), a size that
  fits beside text in a README.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from cartpole_dqn.environment import ENV_ID, prepare_display
from cartpole_dqn.output_files import written_atomically
from cartpole_dqn.pixels import FrameStack

FRAME_SKIP = 2
SCALE = 0.5
MAX_FRAMES = 250
STEPS_PER_SECOND = 50  # CartPole-v1's render_fps


def recording_env(render: str = "none", observation: str = "state"):
    """CartPole recording its frames, and the GifRecorder holding them: ``(env, recorder)``.

    With render "human" the frames are also shown in a window; with observation "pixels" the agent sees them
    as the author's lesson 6 does.
    """
    prepare_display("window" if render == "human" else "frames")
    recorder = GifRecorder(gym.make(ENV_ID, render_mode="rgb_array"))
    env = FrameStack(recorder) if observation == "pixels" else recorder
    return (gym.wrappers.HumanRendering(env) if render == "human" else env), recorder


class GifRecorder(gym.Wrapper):
    """Keep every FRAME_SKIP-th frame of the played steps, scaled, up to MAX_FRAMES."""

    def __init__(self, env, frame_skip=FRAME_SKIP, scale=SCALE, max_frames=MAX_FRAMES):
        super().__init__(env)
        self.frame_skip, self.scale, self.max_frames = frame_skip, scale, max_frames
        self.frames = []  # PIL images
        self._step = 0

    def reset(self, **kwargs):
        result = self.env.reset(**kwargs)
        self._step = 0
        self._keep_frame()
        return result

    def step(self, action):
        result = self.env.step(action)
        self._step += 1
        if self._step % self.frame_skip == 0:
            self._keep_frame()
        return result

    def _keep_frame(self) -> None:
        if len(self.frames) >= self.max_frames:
            return
        from PIL import Image

        image = Image.fromarray(np.asarray(self.env.render()))
        size = (round(image.width * self.scale), round(image.height * self.scale))
        self.frames.append(image.resize(size, Image.Resampling.LANCZOS))

    def save(self, path) -> Path:
        """Write the kept frames to ``path`` as a looping animated GIF."""
        first, *rest = self.frames
        # One shared palette: few colours, no flicker between frames.
        palette = first.quantize(colors=64)
        frames = [palette] + [frame.quantize(palette=palette) for frame in rest]
        with written_atomically(path) as partial:
            frames[0].save(
                partial,
                format="GIF",
                save_all=True,
                append_images=frames[1:],
                loop=0,
                duration=round(1000 * self.frame_skip / STEPS_PER_SECOND),
                optimize=False,
            )
        return Path(path)
