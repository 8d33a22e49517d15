"""Evaluation harnesses: drive a FlowService over recordings or simulated days and score the
engine against realized outcomes (probability calibration) or the simulator's truth (open/close
inference). They sit above the service layer and below the CLI."""
