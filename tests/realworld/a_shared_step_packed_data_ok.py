# realworld: https://github.com/sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning/issues/106
# family: A
"""Look-alike of a shared step computed under a guard: the captioning trainer's `shared_step()` is
unguarded and returns `loss, logs`; validation calls it under `torch.no_grad()`, training with grad
on. Scores and targets are packed with `pack_padded_sequence(...)` and the loss reads the packed
sequences' `.data`: an attribute of a PackedSequence (not a tensor) that holds the packed scores with
their graph, not `Tensor.data`. `loss.backward()` in training works."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence


class CaptionTrainer:
    def __init__(self, decoder, lr=1e-3):
        self.decoder = decoder
        self.opt = torch.optim.Adam(decoder.parameters(), lr=lr)

    def shared_step(self, batch):
        feats, captions, lengths = batch
        scores = self.decoder(feats)
        packed_scores = pack_padded_sequence(scores, lengths, batch_first=True)
        packed_targets = pack_padded_sequence(captions, lengths, batch_first=True)
        loss = F.cross_entropy(packed_scores.data, packed_targets.data)
        return loss, {"loss": loss.detach(), "tokens": int(sum(lengths))}

    def training_step(self, batch):
        loss, logs = self.shared_step(batch)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return logs

    def validation_step(self, batch):
        with torch.no_grad():
            _, logs = self.shared_step(batch)
        return logs


if __name__ == "__main__":
    trainer = CaptionTrainer(nn.Linear(6, 9))
    batch = (torch.randn(2, 4, 6), torch.randint(0, 9, (2, 4)), [4, 3])
    trainer.training_step(batch)
    assert trainer.validation_step(batch)["loss"].grad_fn is None
