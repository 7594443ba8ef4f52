import torch
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


if __name__ == "__main__":
    # quick self-test with a few activations
    for act in ["ReLU", "Tanh", "GELU"]:
        net = MySequential(nn.Linear(4, 8), getattr(nn, act)(), nn.Linear(8, 2))
        print(act, net(torch.randn(3, 4)).shape)
