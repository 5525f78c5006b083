"""Imports a module that does not exist."""
import no_such_module_for_verify  # noqa: F401
