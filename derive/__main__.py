"""Command line: ``python -m derive {report,codegen,prove,verify,bench}``."""
import sys

from derive.cli import main

sys.exit(main())
