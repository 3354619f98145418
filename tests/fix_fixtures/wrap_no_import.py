#!/usr/bin/env python
"""Scoring helper that never imported torch itself."""
from __future__ import annotations

import os
from typing import Iterable

# fix: wrap_no_grad@13:5


def predict(model, batches: Iterable) -> list:
    outputs = []
    for batch in batches:
        outputs.append(model(batch))
    print(os.getpid())
    return outputs
