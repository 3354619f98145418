# realworld: https://github.com/zyh-uaiaaaa/Erasing-Attention-Consistency/issues/11
# family: B
"""An expression classifier returns `(logits, cam)`, a class-activation map used for a
flip-consistency loss. The loop keeps the first image's map of every step to make an animation of
how attention evolves. `cam` comes out of the forward with its graph (it is part of the loss that
was back-propagated), so `cam_frames` keeps every step's forward graph alive: memory grows with the
step count. The frames wanted `.detach().cpu()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CamNet(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Conv2d(1, 6, 3, padding=1)
        self.fc = nn.Linear(6, classes)

    def forward(self, x):
        fmap = F.relu(self.features(x))
        logits = self.fc(fmap.mean((2, 3)))
        cam = torch.einsum("bchw,kc->bkhw", fmap, self.fc.weight)
        return logits, cam


def train_epoch(model, loader, optimizer, lam=0.5):
    cam_frames = []
    for faces, labels in loader:
        logits, cam = model(faces)
        _, cam_flip = model(faces.flip(3))
        loss = F.cross_entropy(logits, labels) + lam * F.mse_loss(cam, cam_flip.flip(3))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        cam_frames.append(cam[0])  # finding: NG202
    return cam_frames


if __name__ == "__main__":
    net = CamNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    data = [(torch.randn(2, 1, 6, 6), torch.randint(0, 4, (2,))) for _ in range(3)]
    frames = train_epoch(net, data, opt)
    assert all(t.grad_fn is not None for t in frames)  # runtime-check: every step's forward graph is kept
