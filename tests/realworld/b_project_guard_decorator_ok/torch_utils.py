"""Project-wide torch helpers."""
import functools

import torch


def evaluation_mode(function):
    """Run `function` with autograd switched off."""
    @functools.wraps(function)
    def run_without_grad(*args, **kwargs):
        with torch.no_grad():
            return function(*args, **kwargs)
    return run_without_grad
