"""CartPole-v1 from gymnasium, and the one place that knows about displays.

CartPole draws with pygame, which draws through SDL.  Everything the package
reads from or sets in SDL's environment variables is here; what it sets
holds for this process only, and a value the user set always wins.
"""

from __future__ import annotations

import os
import sys

import gymnasium as gym
import numpy as np

from cartpole_dqn.errors import UserError

ENV_ID = "CartPole-v1"
# The most steps an episode lasts, so the highest score: CartPole-v1 truncates at 500.
_TIME_LIMIT = gym.spec(ENV_ID).max_episode_steps
assert _TIME_LIMIT is not None, f"{ENV_ID} is registered with its time limit"
MAX_SCORE = int(_TIME_LIMIT)
RENDER_CHOICES = ("human", "none")
# Where a window needs an X11 (or Wayland) server named by DISPLAY (or WAYLAND_DISPLAY).
_X11_PLATFORMS = ("linux", "freebsd", "openbsd")


def make_env(render: str = "none", observation: str = "state"):
    """Make CartPole-v1; ``render`` is "human" (a window) or "none".

    ``observation`` "pixels" (the author's lesson 6): its observations are stacks of rendered frames, drawn off
    screen, shown in a window too with ``render`` "human".
    """
    if observation == "pixels":
        from cartpole_dqn.pixels import FrameStack

        prepare_display("window" if render == "human" else "frames")
        env = FrameStack(gym.make(ENV_ID, render_mode="rgb_array"))
        return gym.wrappers.HumanRendering(env) if render == "human" else env
    if render == "human":
        prepare_display("window")
    return gym.make(ENV_ID, render_mode=None if render == "none" else render)


def prepare_display(use: str) -> None:
    """Get SDL ready before CartPole opens pygame's display for ``use``.

    "window": check that a window can open here (UserError if not), and keep
    SDL away from OpenGL.  On Linux, SDL decides how to back a plain window
    by opening a hidden OpenGL context and reading the driver's vendor: only
    ATI's and NVIDIA's own drivers get an OpenGL texture, every other one
    (Mesa) gets X11 shared memory.  Opening that context loads Mesa's driver,
    which links LLVM; TensorFlow loads its own copy of LLVM into the
    process-wide symbol scope, Mesa's calls land in it, and the process dies
    with a segmentation fault.  SDL_FRAMEBUFFER_ACCELERATION=0 skips the test
    and goes straight to shared memory, what SDL picks on Mesa anyway.

    "frames": CartPole draws off screen into arrays but still initialises
    pygame's display; with no display SDL would probe X11 and Wayland
    (printing errors) before falling back, so use its quiet "dummy" driver.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if use == "window":
        if sys.platform.startswith("linux"):
            os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        _require_display()
    elif not _display_named():
        os.environ["SDL_VIDEODRIVER"] = "dummy"


def _display_named() -> bool:
    """False where SDL would find no display: no driver chosen and, on X11 platforms, no DISPLAY."""
    return bool(
        os.environ.get("SDL_VIDEODRIVER")
        or not sys.platform.startswith(_X11_PLATFORMS)
        or os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
    )


def _require_display() -> None:
    """Raise UserError unless a window can be opened here.

    SDL quietly falls back to an invisible "offscreen" driver when Linux has
    no display, or when the one named does not answer (an X server refuses
    connections while it resets, after its last client has left): the game
    would play unseen and exit 0.  Look for one first.
    An explicit SDL_VIDEODRIVER (tests use "dummy") is the user's choice.
    """
    reason = None if _display_named() else "DISPLAY is not set"
    if reason is None:
        import pygame

        try:
            pygame.display.init()
        except pygame.error as exc:
            reason = str(exc)
        else:
            if pygame.display.get_driver() == "offscreen" and not os.environ.get("SDL_VIDEODRIVER"):
                pygame.display.quit()
                named = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                reason = f"the display {named} does not answer"
    if reason:
        raise UserError(
            f"no display available for --render human ({reason}); run headless with --render none, "
            "or inside a virtual display: xvfb-run python -m cartpole_dqn ..."
        )


def play_greedy(q_values, envs, seeds, give_up=None) -> tuple[list[int], int]:
    """Play one greedy episode in each of ``envs`` at once; return their lengths and how many ended.

    ``q_values`` maps a batch of states to Q-values (``DQNAgent.q_values``).
    Each env is reset with its seed from ``seeds`` (None keeps its random
    stream going).  The unfinished episodes share one network call per step,
    so ten episodes cost little more than one.  ``give_up``, if given, sees
    the scores of the episodes that have ended whenever more end while others
    still play; when it returns True, play stops: the episodes still playing
    keep the steps they lasted so far as their lengths.
    """
    states = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)]
    scores = [0] * len(envs)
    playing = list(range(len(envs)))
    while playing:
        q = np.asarray(q_values(np.asarray([states[k] for k in playing], dtype=np.float32)))
        still_playing = []
        for k, action in zip(playing, np.argmax(q, axis=1), strict=True):
            states[k], _, terminated, truncated, _ = envs[k].step(int(action))
            scores[k] += 1
            if not (terminated or truncated):
                still_playing.append(k)
        if still_playing and len(still_playing) < len(playing) and give_up is not None:
            ended = [score for k, score in enumerate(scores) if k not in still_playing]
            if give_up(ended):
                return scores, len(ended)
        playing = still_playing
    return scores, len(envs)
