import sys

from cartpole_dqn.cli import main

sys.exit(main())
