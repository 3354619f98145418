# realworld: https://github.com/deepmodeling/Uni-Mol/issues/173
# family: B
"""A masked-atom criterion returns `(loss, logging_output)` in the fairseq/Uni-Core style, and the
trainer keeps every step's logging dict to reduce the metrics at the end of the epoch. The dict was
built with the raw `loss` tensor (not `loss.data` / `loss.detach()`), so it holds the step's graph:
`logging_outputs` keeps every step's graph alive and host memory grows with training. Unpacking the
criterion's tuple hides that the second element carries the graph."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MaskedAtomLoss(nn.Module):
    def forward(self, model, sample):
        logits = model(sample["atoms"])
        mask = sample["mask"]
        loss = F.cross_entropy(logits[mask], sample["target"][mask], reduction="sum")
        n = int(mask.sum())
        return loss / n, {"loss": loss, "sample_size": n}


def train_epoch(model, criterion, loader, optimizer):
    logging_outputs = []
    for sample in loader:
        optimizer.zero_grad()
        loss, log = criterion(model, sample)
        loss.backward()
        optimizer.step()
        logging_outputs.append(log)  # finding: NG202
    total = sum(o["loss"].item() for o in logging_outputs)
    return total / sum(o["sample_size"] for o in logging_outputs), logging_outputs


if __name__ == "__main__":
    encoder = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 10))
    opt = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    batches = []
    for _ in range(3):
        atoms = torch.randint(0, 10, (2, 5))
        mask = torch.zeros(2, 5, dtype=torch.bool)
        mask[:, :2] = True
        batches.append({"atoms": atoms, "mask": mask, "target": torch.randint(0, 10, (2, 5))})
    mean_loss, logs = train_epoch(encoder, MaskedAtomLoss(), batches, opt)
    assert all(o["loss"].grad_fn is not None for o in logs)  # runtime-check: graphs kept in the logs
