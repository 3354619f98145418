"""flake8-nograd: find PyTorch gradient-context mistakes before they crash a run."""

__version__ = "0.1.0"
