import torch
from torch import nn


class MyDropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.drop = p

    def forward(self, inputs):
        if self.training and self.drop > 0:
            keep = 1.0 - self.drop
            kept = torch.empty_like(inputs).uniform_() < keep
            scaled = inputs / keep if keep > 0 else torch.zeros_like(inputs)
            return torch.where(kept, scaled, torch.zeros_like(inputs))
        return inputs
