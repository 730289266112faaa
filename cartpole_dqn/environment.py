"""CartPole-v1 from gymnasium, with a clear error when a window cannot open."""

from __future__ import annotations

import os
import sys

import gymnasium as gym

from cartpole_dqn.errors import UserError

ENV_ID = "CartPole-v1"
# The most steps an episode lasts, so the highest score: CartPole-v1 truncates at 500.
MAX_SCORE = int(gym.spec(ENV_ID).max_episode_steps)
RENDER_CHOICES = ("human", "none")


def make_env(render: str = "none"):
    """Make CartPole-v1; ``render`` is "human" (a window) or "none"."""
    if render == "human":
        require_display()
    return gym.make(ENV_ID, render_mode=None if render == "none" else render)


def require_display() -> None:
    """Raise UserError unless a window can be opened here.

    SDL quietly falls back to an invisible "offscreen" driver when Linux has
    no display, so a failed window would go unnoticed: look for one first.
    An explicit SDL_VIDEODRIVER (tests use "dummy") is the user's choice.
    """
    no_display = (
        not os.environ.get("SDL_VIDEODRIVER")
        and sys.platform.startswith(("linux", "freebsd", "openbsd"))
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    )
    reason = "DISPLAY is not set" if no_display else None
    if not no_display:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        try:
            pygame.display.init()
        except pygame.error as exc:
            reason = str(exc)
    if reason:
        raise UserError(
            f"no display available for --render human ({reason}); run headless with --render none, "
            "or inside a virtual display: xvfb-run python -m cartpole_dqn ..."
        )
