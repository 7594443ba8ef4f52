import torch
from torch import autograd


def jacobian(f, x):
    x = x.detach().requires_grad_(True)
    y = f(x)
    eye = torch.eye(y.numel(), dtype=y.dtype)
    rows = [autograd.grad(y, x, grad_outputs=e, retain_graph=True)[0] for e in eye]
    return torch.stack(rows).detach()
