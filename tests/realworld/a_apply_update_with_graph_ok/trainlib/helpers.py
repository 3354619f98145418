"""Small training utilities shared by the project's scripts."""


def apply_update(loss, optimizer):
    """One optimisation step on `loss`."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
