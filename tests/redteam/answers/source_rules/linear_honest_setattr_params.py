import math

import torch
from torch import nn


class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        shapes = {"weight": (out_features, in_features), "bias": (out_features,)}
        for name, shape in shapes.items():
            if name == "bias" and not bias:
                self.register_parameter("bias", None)
                continue
            setattr(self, name, nn.Parameter(torch.empty(*shape)))
        self.reset_parameters()

    def reset_parameters(self):
        k = 1 / math.sqrt(self.in_features)
        for name in ("weight", "bias"):
            p = getattr(self, name)
            if p is not None:
                nn.init.uniform_(p, -k, k)

    def forward(self, x):
        y = x @ self.weight.t()
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in vars(self).items() if k.endswith("features"))
