"""The judge: a pool of warm torch workers that run code answers in a jail (see jail.py and pool.py).

This package's __init__ imports nothing: the host imports `quizapp.judge.pool` (no torch); only the
workers (server.py, tasks.py, probes.py) import torch.
"""
