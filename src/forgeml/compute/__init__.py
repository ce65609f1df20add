"""Where jobs run: compute backends and the environments jobs run in."""
