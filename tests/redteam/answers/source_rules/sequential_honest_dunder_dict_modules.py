from torch import nn


class MySequential(nn.Module):
    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            self._modules[str(index)] = module

    def forward(self, x):
        for module in self.__dict__["_modules"].values():
            x = module(x)
        return x

    def __len__(self):
        return len(vars(self)["_modules"])

    def __getitem__(self, i):
        return getattr(self, str(i))
