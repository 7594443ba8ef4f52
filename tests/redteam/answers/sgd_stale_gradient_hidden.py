"""An SGD whose zero_grad() does nothing, whose `zero-grad` probe report says the gradient was cleared.

The answer wraps the custom probe: it runs the real probe and replaces the gradient observed after
zero_grad() by zeros. The weights after the following step, computed with the stale gradient, stay in the
report.
"""

import sys

import torch

probes = sys.modules["quizapp.judge.probes"]
_real = probes._PROBES["custom"]


def _doctored(spec, *args, **kwargs):
    report = _real(spec, *args, **kwargs)
    if spec.get("id") == "zero-grad" and isinstance(report.get("value"), dict):
        report["value"]["left"] = [0.0, 0.0, 0.0]
    return report


probes._PROBES["custom"] = _doctored


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
