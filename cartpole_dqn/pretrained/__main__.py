"""Install a trained model as the shipped pretrained agent, without optimizer state.

    python -m cartpole_dqn.pretrained MODEL.h5

Loading with ``compile=False`` drops the Adam moments, which would otherwise
triple the file; the copy can play (``test --pretrained``), not resume training.
"""

from __future__ import annotations

import sys

from cartpole_dqn.environment import make_env
from cartpole_dqn.errors import UserError
from cartpole_dqn.model import load_model, save_model
from cartpole_dqn.pretrained import PRETRAINED_MODEL


def install(source) -> None:
    env = make_env("none")
    model = load_model(source, int(env.observation_space.shape[0]), int(env.action_space.n))
    save_model(model, PRETRAINED_MODEL)


def main(argv) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[1].strip(), file=sys.stderr)
        return 2
    try:
        install(argv[0])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"installed {argv[0]} as {PRETRAINED_MODEL}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
