from torch import nn


class MySequential(nn.Module):
    def __init__(self, *modules):
        super().__init__()
        names = [type(m).__name__.lower() + str(i) for i, m in enumerate(modules)]
        for name, m in zip(names, modules):
            self.register_module(name, m)
        self._order = names

    def forward(self, x):
        for name in self._order:
            x = getattr(self, name)(x)
        return x
