"""Prints without end while it is imported."""
while True:
    print("x" * 1000)
