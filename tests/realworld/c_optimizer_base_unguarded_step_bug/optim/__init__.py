from .sgd import PlainSGD

__all__ = ["PlainSGD"]
