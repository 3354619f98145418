# realworld: https://github.com/namisan/mt-dnn/pull/92
# family: B
"""A multi-task evaluation: `eval_tasks()` loops over the test batches and calls a per-batch
helper that runs the shared encoder and the task's head, taken from an `nn.ModuleDict`. The loop
itself has no guard, but its only caller runs it inside `with torch.no_grad():` (the fix of the
report), so neither the helper's forward nor anything the loop keeps has a graph. Correct."""
import torch
import torch.nn as nn


def predict(encoder, heads, task, tokens):
    logits = heads[task](encoder(tokens).mean(1))
    return logits.argmax(-1)


def eval_tasks(encoder, heads, test_sets):
    scores = {}
    for task, batches in test_sets.items():
        hits, n = 0, 0
        for tokens, labels in batches:
            preds = predict(encoder, heads, task, tokens)
            hits += (preds == labels).sum().item()
            n += labels.numel()
        scores[task] = hits / n
    return scores


def main():
    encoder = nn.Sequential(nn.Embedding(40, 16), nn.Linear(16, 16), nn.Tanh())
    heads = nn.ModuleDict({"sentiment": nn.Linear(16, 2), "topic": nn.Linear(16, 4)})
    encoder.eval()
    heads.eval()
    test_sets = {
        "sentiment": [(torch.randint(0, 40, (3, 6)), torch.randint(0, 2, (3,)))],
        "topic": [(torch.randint(0, 40, (3, 6)), torch.randint(0, 4, (3,)))],
    }
    graph_flags = []
    for head in heads.values():
        head.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    with torch.no_grad():
        scores = eval_tasks(encoder, heads, test_sets)
    return scores, graph_flags


if __name__ == "__main__":
    results, flags = main()
    assert flags and not any(flags)
