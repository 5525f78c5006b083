"""``python -m derive``: the command line.

The commands live in the application layer (:mod:`verifier.cli`); this entry
point of the distribution only hands over to it (the layer contract in
pyproject.toml names this one import as the exception).
"""
import sys

from verifier.cli import main

sys.exit(main())
