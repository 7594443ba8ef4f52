import torch


def jacobian(f, x, dtype="float32"):
    x = x.detach().to(getattr(torch, dtype)).requires_grad_(True)
    y = f(x)
    rows = []
    for i in range(y.numel()):
        (row,) = torch.autograd.grad(y[i], x, retain_graph=True)
        rows.append(row)
    return torch.stack(rows)
