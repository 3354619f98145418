# realworld: https://github.com/huggingface/torchMoji/issues/21
# family: A
"""An emoji classifier's `forward` can hand back detached outputs (`return_tensor=True`, meant
for exporting predictions), and the fine-tuning loop calls it with that flag. The loss then has no
graph, and the "fix" wraps it as `Variable(loss, requires_grad=True)`: backward runs on a new leaf
and the classifier's weights receive no gradient, so the loss never goes down."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable


class EmojiClassifier(nn.Module):
    def __init__(self, vocab=20, dim=8, classes=4):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab, dim)
        self.classifier = nn.Linear(dim, classes)

    def forward(self, tokens, return_tensor=False):
        out = self.classifier(self.embed(tokens))
        if return_tensor:
            out = out.detach()
        return out


def finetune(model, loader, opt):
    model.train()
    for tokens, labels in loader:
        logits = model(tokens, return_tensor=True)
        loss = F.cross_entropy(logits, labels)
        loss = Variable(loss, requires_grad=True)  # finding: NG102
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    net = EmojiClassifier()
    batches = [(torch.randint(0, 20, (3, 6)), torch.randint(0, 4, (3,))) for _ in range(2)]
    finetune(net, batches, torch.optim.Adam(net.parameters(), lr=1e-2))
    assert net.classifier.weight.grad is None  # runtime-check: the wrapped loss is a fresh leaf; no weight gets a gradient
