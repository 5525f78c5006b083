"""Generated NumPy modules, one per model: `python -m derive codegen` writes them."""
