"""The tutorial's first program: play CartPole with random actions.

It shows the environment's interface before any learning: each line is the
step index, the next state, the reward, gymnasium's two end flags
(terminated: the pole fell or the cart left; truncated: 500 steps passed),
the info dict and the action taken.
"""

from __future__ import annotations

from cartpole_dqn.environment import make_env


def Random_games(episodes: int = 10, render: str = "none", seed=None):
    """Play ``episodes`` games with random actions; return each game's length."""
    env = make_env(render)
    env.action_space.seed(seed)
    lengths = []
    for episode in range(episodes):
        env.reset(seed=seed if episode == 0 else None)
        for t in range(500):
            action = env.action_space.sample()
            next_state, reward, terminated, truncated, info = env.step(action)
            print(t, next_state, reward, terminated, truncated, info, action)
            if terminated or truncated:
                break
        lengths.append(t + 1)
    env.close()
    return lengths
