"""Weight-editing helpers (the callers switch grad off)."""
import torch


def scale_weights(layer, factor):
    layer.weight.mul_(factor)


def shift_column(layer, column, direction):
    layer.weight[:, column] -= 0.1 * torch.as_tensor(direction)
