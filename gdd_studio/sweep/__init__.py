"""Sweeps: many runs from one base config, and the executors that run them.

Above the engine and the evaluation (it starts runs and evaluations), below the CLI and
the window (which start sweeps). Qt-free.
"""
