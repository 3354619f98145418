# -*- coding: latin-1 -*-
"""Café à la torch."""
import torch


def score(model, x):
    with torch.no_grad:  # résultat
        return model(x)
