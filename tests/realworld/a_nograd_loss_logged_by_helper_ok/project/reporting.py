from collections import defaultdict

HISTORY = defaultdict(list)


def record(name, value):
    """Keep a metric's value (a float: no tensor, no graph, is kept)."""
    HISTORY[name].append(float(value))
    return HISTORY
