import torch
from torch import nn


class MySequential(nn.Module):
    def __init__(self, *modules):
        super().__init__()
        self.n = len(modules)
        for i, m in enumerate(modules):
            setattr(self, f"layer{i}", m)

    def forward(self, x):
        for i in range(self.n):
            x = getattr(self, f"layer{i}")(x)
        return x
