"""Initialisation helpers."""


def scale_weights(layer, factor):
    """Multiply a layer's weight by `factor` (a smaller initial output scale)."""
    layer.weight.mul_(factor)  # raises: a leaf Variable that requires grad
