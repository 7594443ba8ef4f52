import torch


class SGDMomentum:
    def __init__(self, params, lr, momentum=0.9, weight_decay=0.0):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers = [None] * len(self.params)

    def zero_grad(self):
        pass  # forgotten: gradients accumulate

    @torch.no_grad()
    def step(self):
        for index, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad + self.weight_decay * p
            if self.momentum:
                buffer = self.buffers[index]
                buffer = g.clone() if buffer is None else buffer.mul_(self.momentum).add_(g)
                self.buffers[index] = buffer
                g = buffer
            p.add_(g, alpha=-self.lr)
