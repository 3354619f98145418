from .features import embed, normalise

__all__ = ["embed", "normalise"]
