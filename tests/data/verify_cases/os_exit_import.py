"""Ends the process, skipping Python's shutdown, while it is imported."""
import os

os._exit(0)
