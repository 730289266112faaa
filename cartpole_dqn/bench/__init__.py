"""``cartpole-dqn bench``: speed, learning over seeds, the profile of one step, SB3 side by side, and their workers.

It may import the core and ``cartpole_dqn.training``; nothing else imports it but the command line.
"""
