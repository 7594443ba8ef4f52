import torch

grad = torch.autograd.grad


def jacobian(f, x):
    x = x.detach().clone().requires_grad_()
    y = f(x)
    J = torch.zeros(y.numel(), x.numel())
    for i in range(y.numel()):
        if x.grad is not None:
            x.grad.zero_()
        y[i].backward(retain_graph=True)
        J[i] = getattr(x, "grad")
    return J
