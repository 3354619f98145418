import contextlib

import torch


@contextlib.contextmanager
def frozen():
    """No autograd recording inside (a context manager, and a decorator too)."""
    with torch.no_grad():
        yield
