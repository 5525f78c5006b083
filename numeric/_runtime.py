"""The old private name of :mod:`numeric.runtime`, kept so that modules generated
before the rename (``from numeric import _runtime as rt``) keep working."""
from numeric.runtime import *  # noqa: F401,F403
from numeric.runtime import __all__  # noqa: F401
