"""Keras Tuner hypermodels and tuning jobs for kerasseq models.

`tuning.guards` holds the checks every tuning job runs, so that a broken
environment or a search whose trials all failed never reports "best"
hyperparameters.
"""
