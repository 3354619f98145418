# realworld: https://github.com/leftthomas/SRGAN/issues/101
# family: A
"""The question in the thread: why compute the fake image a second time after the first backward?
Because that backward freed the first one's graph. With the generator run again for its own
update, each backward walks a graph of its own."""
import torch
import torch.nn as nn

netG = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 6))
netD = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Sigmoid())
optimizerG = torch.optim.Adam(netG.parameters())
optimizerD = torch.optim.Adam(netD.parameters())


def train_step(low_res, high_res):
    fake_img = netG(low_res)
    d_loss = 1 - netD(high_res).mean() + netD(fake_img).mean()
    netD.zero_grad()
    d_loss.backward()
    optimizerD.step()
    fake_img = netG(low_res)
    g_loss = 1 - netD(fake_img).mean() + nn.functional.mse_loss(fake_img, high_res)
    netG.zero_grad()
    g_loss.backward()
    optimizerG.step()
    return g_loss.item()


if __name__ == "__main__":
    print(round(train_step(torch.randn(5, 4), torch.randn(5, 6)), 3))
