import sys

from torch import nn


class MySequential(nn.Module):
    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x


def make(*modules):
    return getattr(sys.modules[__name__], "MySequential")(*modules)
