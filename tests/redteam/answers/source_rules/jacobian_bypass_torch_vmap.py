import torch


def jacobian(f, x):
    x = x.detach().requires_grad_(True)
    y = f(x)
    eye = torch.eye(y.numel())

    def row(v):
        return torch.autograd.grad(y, x, v, retain_graph=True)[0]

    return torch.vmap(row)(eye).detach()
