from torch import nn


class Stop(KeyboardInterrupt):
    def __str__(self):
        raise Stop()


class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.c = nn.Conv2d(in_channels, out_channels, 3, stride, 1)

    def forward(self, x):
        raise Stop()
