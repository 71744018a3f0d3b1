"""Offline evaluation of the ranker against baselines (pure: arrays in, numbers out).

protocol.py     simulated users, days and votes
baselines.py    the other tools' rankers, as their projects do it
references.py   bounds that know the whole library
calibration.py  the minimum score and similarity floor from citation pairs
evaluate.py     runs every method over the same users
metrics.py      P@10, nDCG, MRR with bootstrap intervals
"""
