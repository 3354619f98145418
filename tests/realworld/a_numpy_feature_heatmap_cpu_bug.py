# realworld: https://github.com/XiaMooo/Yolo-Detect-Layer-Visualization/issues/1
# family: A
"""A layer-visualisation script runs a detector's backbone on an image and turns the feature maps
into heat maps with `.cpu().numpy()`. The forward ran with grad on, so the maps require grad and
the conversion raises; `.cpu()` does not drop the flag (the maintainer's fix: detach before
`.cpu()`)."""
import numpy as np
import torch
import torch.nn as nn

backbone = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.SiLU(), nn.Conv2d(4, 4, 3, padding=1))


def heat_map(channel):
    lo, hi = channel.min(), channel.max()
    return (channel - lo) / (hi - lo + 1e-8)


if __name__ == "__main__":
    image = torch.rand(1, 3, 8, 8)
    feature_maps = backbone(image)
    maps = [heat_map(feature_maps[0, c]) for c in range(feature_maps.shape[1])]
    first = maps[0]
    grid = feature_maps[0].cpu().numpy()  # finding: NG104  # raises: Can't call numpy() on Tensor that requires grad
    print(np.round(grid.mean(), 3), first.shape)
