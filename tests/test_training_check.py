"""The `training` check, graded for real through the jailed pool: answers are trained beside the reference for a
few steps, right ones in many styles pass, and each wrong one fails with the first step and quantity that
differ and the cause in a reviewer's words. Hostile answers (a forged report, a fake loss, a patched
torch.optim) never pass.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack
from quizapp.packs.loader import check_pack_text

CANON = load_pack(Path(__file__).parent / "packs" / "format2-canon.yaml")

# Questions beyond the canon pack's: a manual SGD update, a training loop, a scheduler, an optimizer's parameters.
EXTRA = """\
format: 2
id: training-extra
title: Training checks under test
version: "1.0.0"
description: Questions that exercise the training check's diagnoses.
authors: [Tests]
licence: CC-BY-4.0
questions:
  - id: sgd-step
    kind: code
    title: A manual SGD step
    difficulty: easy
    minutes: 3
    prompt: "`sgd_step(params, lr)` updates each parameter by `-lr * grad` and clears the gradients."
    signature: sgd_step(params, lr)
    entry_point: sgd_step
    solution: |
      import torch

      def sgd_step(params, lr):
          with torch.no_grad():
              for p in params:
                  p -= lr * p.grad
                  p.grad.zero_()
    explanation: In place, without tracking, then clear.
    checks:
      - id: descends
        kind: training
        setup: |
          x, y = torch.randn(32, 4), torch.randn(32, 2)
          model = nn.Linear(4, 2)
        step: |
          loss = F.mse_loss(model(x), y)
          loss.backward()
          sgd_step(model.parameters(), lr=0.1)
          loss.item()
        steps: 3
        watch: model

  - id: train-loop
    kind: code
    title: A training loop
    difficulty: easy
    minutes: 5
    prompt: "`train(model, batches, optimizer)` trains on each `(x, y)` batch once; returns the last loss as a float."
    signature: train(model, batches, optimizer) -> float
    entry_point: train
    solution: |
      from torch.nn import functional as F

      def train(model, batches, optimizer):
          for x, y in batches:
              optimizer.zero_grad()
              loss = F.cross_entropy(model(x), y)
              loss.backward()
              optimizer.step()
          return loss.item()
    explanation: Zero, forward, backward, step.
    checks:
      - id: trains
        kind: training
        setup: |
          batches = [(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(4)]
          model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
          optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        step: train(model, [batches[step]], optimizer)
        steps: 4
        watch: model
        loss: float
      - id: epochs
        kind: training
        setup: |
          batches = [(torch.randn(16, 4), torch.randint(0, 3, (16,))) for _ in range(4)]
          model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
          optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        step: "train(model, batches[2 * step : 2 * step + 2], optimizer)"
        steps: 2
        watch: model

  - id: warm-up
    kind: code
    title: Warm-up then linear decay
    difficulty: medium
    minutes: 8
    prompt: "`warmup_linear(optimizer, warmup, total)` returns a scheduler."
    signature: warmup_linear(optimizer, warmup, total)
    entry_point: warmup_linear
    solution: |
      import torch

      def warmup_linear(optimizer, warmup, total):
          def factor(count):
              if count < warmup:
                  return (count + 1) / warmup
              return max(0.0, (total - count) / (total - warmup))
          return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    explanation: LambdaLR counts from 0.
    checks:
      - id: schedule
        kind: training
        setup: |
          w = torch.zeros(3, requires_grad=True)
          optimizer = torch.optim.SGD([w], lr=0.5)
          scheduler = warmup_linear(optimizer, warmup=3, total=8)
        step: |
          w.sum().backward()
          optimizer.step()
          scheduler.step()
        steps: 8
        watch: ["optimizer.param_groups[0]['lr']", w]

  - id: head-only
    kind: code
    title: The optimizer of a whole model
    difficulty: easy
    minutes: 2
    prompt: "`make_optimizer(model)`: SGD with lr 0.1 over every parameter of the model."
    signature: make_optimizer(model)
    entry_point: make_optimizer
    solution: |
      import torch

      def make_optimizer(model):
          return torch.optim.SGD(model.parameters(), lr=0.1)
    explanation: Every parameter, or some never train.
    checks:
      - id: all-train
        kind: training
        setup: |
          x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
          model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
          optimizer = make_optimizer(model)
        step: |
          optimizer.zero_grad()
          F.cross_entropy(model(x), y).backward()
          optimizer.step()
        steps: 2
        watch: model

  - id: bn-step
    kind: code
    title: A training step for a model with BatchNorm
    difficulty: easy
    minutes: 3
    prompt: "`train_step(model, x, y, optimizer)`: one step of MSE regression; returns the loss as a float."
    signature: train_step(model, x, y, optimizer) -> float
    entry_point: train_step
    solution: |
      from torch.nn import functional as F

      def train_step(model, x, y, optimizer):
          model.train()
          optimizer.zero_grad()
          loss = F.mse_loss(model(x), y)
          loss.backward()
          optimizer.step()
          return loss.item()
    explanation: Train mode, so that BatchNorm uses and updates the batch statistics.
    checks:
      - id: trains
        kind: training
        setup: |
          x, y = torch.randn(16, 4), torch.randn(16, 2)
          model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
          optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
          model.eval()
        step: train_step(model, x, y, optimizer)
        steps: 2
        watch: model

  - id: mlp
    kind: code
    title: A two-layer network that trains
    difficulty: easy
    minutes: 3
    prompt: "`MLP(n_in, n_hidden, n_out)`: Linear, ReLU, Linear."
    signature: MLP(n_in, n_hidden, n_out)
    entry_point: MLP
    solution: |
      from torch import nn

      class MLP(nn.Module):
          def __init__(self, n_in, n_hidden, n_out):
              super().__init__()
              self.layers = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))

          def forward(self, x):
              return self.layers(x)
    explanation: Two layers and a nonlinearity.
    checks:
      - id: trains
        kind: training
        setup: |
          x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
          model = MLP(4, 8, 3)
          optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        step: |
          optimizer.zero_grad()
          loss = F.cross_entropy(model(x), y)
          loss.backward()
          optimizer.step()
          loss
        steps: 3
        watch: model

  - id: adam-settings
    kind: code
    title: Adam for a transformer
    difficulty: easy
    minutes: 2
    prompt: "`make_adam(model)`: torch's Adam with lr 0.01 and betas (0.9, 0.98)."
    signature: make_adam(model)
    entry_point: make_adam
    solution: |
      import torch

      def make_adam(model):
          return torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.98))
    explanation: The second beta sets how long the squared gradients are remembered.
    checks:
      - id: state
        kind: training
        setup: |
          x, y = torch.randn(16, 4), torch.randn(16, 2)
          model = nn.Linear(4, 2)
          optimizer = make_adam(model)
        step: |
          optimizer.zero_grad()
          F.mse_loss(model(x), y).backward()
          optimizer.step()
        steps: 2
        watch: [model, "optimizer.state_dict()['state']"]
"""
EXTRA_PACK = check_pack_text(EXTRA, "extra.yaml").pack


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("reference-cache")))


def grade(grader: Grader, question_id: str, source: str):
    pack = EXTRA_PACK if question_id in {q.id for q in EXTRA_PACK.questions} else CANON
    return grader.grade(pack, pack.question(question_id), source)


def failure(result, check: str) -> str:
    test = next(t for t in result.tests if t.check == check)
    assert test.status != "pass", result.to_json()
    return test.message


def test_the_extra_pack_loads() -> None:
    assert check_pack_text(EXTRA, "extra.yaml").problems == []


# --- the training step with the zero_grad bug (fix) --------------------------------------------------------------

STEP_HEAD = "import torch\nfrom torch.nn import functional as F\n\n\n"
STEP_RIGHT = {
    "zero-grad-first": """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
    "zero-grad-keeping-tensors": """
def train_step(model, batch, optimizer):
    optimizer.zero_grad(set_to_none=False)
    loss = F.cross_entropy(model(batch[0]), batch[1])
    loss.backward()
    optimizer.step()
    return float(loss)
""",
    "model-zero-grad": """
def train_step(model, batch, optimizer):
    model.zero_grad()
    inputs, labels = batch
    logits = model(inputs)
    loss = torch.nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    optimizer.step()
    return loss.detach().item()
""",
    "zero-grad-at-the-end": """
def train_step(model, batch, optimizer):
    x, y = batch
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()
""",
    "grads-cleared-by-hand": """
def train_step(model, batch, optimizer):
    for p in model.parameters():
        p.grad = None
    x, y = batch
    loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
}

# (code, step and quantity named, words of the cause)
STEP_WRONG = {
    "no-zero-grad": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
        "after step 2 of 4, `0.weight` differs from the reference",
        "gradients accumulate across steps: is zero_grad called?",
    ),
    "backward-twice": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
        "after step 1 of 4, `0.weight` differs from the reference",
        "its gradient is twice the reference's: is loss.backward() called twice (or the loss added twice)? "
        "(backward runs twice in this step, the reference's once)",
    ),
    "step-before-backward": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    optimizer.step()
    loss.backward()
    return loss.item()
""",
        "after step 1 of 4, `0.weight` differs from the reference",
        "no parameter changes at this step although backward gives gradients: is optimizer.step() called, after "
        "loss.backward()",
    ),
    "loss-with-its-graph": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss
""",
        "step 1 of 4 gives a tensor with its graph (grad_fn=NllLossBackward0",
        "where a Python float is wanted: return loss.item()",
    ),
    "loss-not-returned": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
""",
        "step 1 of 4 gives no loss",
        "is the loss returned?",
    ),
    "raises-at-step-3": (
        """
seen = []


def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    seen.append(loss.item())
    if len(seen) == 3:
        raise KeyError("oops")
    return seen[-1]
""",
        "KeyError: 'oops' while running step 3 of 4, after 2 step(s) that agree with the reference",
        '(answer.py line 17: `raise KeyError("oops")`)',
    ),
    "per-sample-losses": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    losses = F.cross_entropy(model(x), y, reduction="none")
    losses.mean().backward()
    optimizer.step()
    return losses.detach()
""",
        "step 1 of 4 gives a tensor of shape (16,), not a scalar loss",
        "reduce it (the mean over the batch)",
    ),
    "step-twice": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    optimizer.step()
    return loss.item()
""",
        "after step 1 of 4, `0.weight` differs from the reference",
        "optimizer.step() runs twice in this step where the reference's runs once",
    ),
    "fake-loss": (
        """
def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    return 1.0
""",
        "the loss of step 1 of 4 is 1, expected",
        "",
    ),
}


@pytest.mark.parametrize("style", sorted(STEP_RIGHT))
def test_right_training_steps_pass_whatever_their_style(grader: Grader, style: str) -> None:
    result = grade(grader, "fix-drifting-training-step", STEP_HEAD + STEP_RIGHT[style])
    assert result.verdict == "accepted", result.to_json()


@pytest.mark.parametrize("mistake", sorted(STEP_WRONG))
def test_wrong_training_steps_name_the_step_the_quantity_and_the_cause(grader: Grader, mistake: str) -> None:
    code, where, cause = STEP_WRONG[mistake]
    result = grade(grader, "fix-drifting-training-step", STEP_HEAD + code)
    assert result.verdict in ("wrong_answer", "runtime_error"), result.to_json()
    message = failure(result, "trains-like-the-reference")
    assert where in message, message
    assert cause in message, message
    assert "Traceback" not in message


# --- a training loop ---------------------------------------------------------------------------------------------

LOOP_RIGHT = {
    "for-x-y": """
from torch.nn import functional as F

def train(model, batches, optimizer):
    for x, y in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()
""",
    "indexing-and-a-list-of-losses": """
import torch

def train(model, batches, optimizer):
    criterion = torch.nn.CrossEntropyLoss()
    losses = []
    for i in range(len(batches)):
        inputs, targets = batches[i]
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses[-1]
""",
}


@pytest.mark.parametrize("style", sorted(LOOP_RIGHT))
def test_right_training_loops_pass(grader: Grader, style: str) -> None:
    assert grade(grader, "train-loop", LOOP_RIGHT[style]).verdict == "accepted"


def test_a_loop_without_zero_grad_is_named(grader: Grader) -> None:
    code = LOOP_RIGHT["for-x-y"].replace("        optimizer.zero_grad()\n", "")
    result = grade(grader, "train-loop", code)
    message = failure(result, "trains")
    assert message.startswith("after step 2 of 4, `0.weight` differs from the reference: its gradient is the sum")
    assert "is zero_grad called?" in message
    # two batches per step: the gradients of every backward say that the second batch's holds the first's too
    assert failure(result, "epochs").startswith(
        "after step 1 of 2, `0.weight` differs from the reference: its gradient is the sum of the reference's "
        "gradients of every batch so far: gradients accumulate across batches: is zero_grad called?"
    )


# --- a manual SGD update: its sign and its scale -----------------------------------------------------------------

SGD_WRONG = {
    "gradient-ascent": (
        "p += lr * p.grad\n            p.grad.zero_()",
        "after step 1 of 3, `weight` differs from the reference: the update goes the wrong way, up the gradient "
        "(gradient ascent)",
    ),
    "lr-ten-times": (
        "p -= 10 * lr * p.grad\n            p.grad.zero_()",
        "after step 1 of 3, `weight` differs from the reference: the update is 10 times the reference's at every "
        "step: is the learning rate scaled?",
    ),
    "never-cleared": (
        "p -= lr * p.grad",
        "after step 2 of 3, `weight` differs from the reference: its gradient is the sum of the reference's",
    ),
}


@pytest.mark.parametrize("mistake", sorted(SGD_WRONG))
def test_a_manual_update_with_the_wrong_sign_or_scale_is_named(grader: Grader, mistake: str) -> None:
    line, words = SGD_WRONG[mistake]
    solution = EXTRA_PACK.question("sgd-step").solution
    code = solution.replace("p -= lr * p.grad\n            p.grad.zero_()", line)
    assert code != solution
    message = failure(grade(grader, "sgd-step", code), "descends")
    assert message.startswith(words), message


def test_a_manual_update_on_data_passes(grader: Grader) -> None:
    code = """
def sgd_step(params, lr):
    for p in params:
        p.data.add_(p.grad.data, alpha=-lr)
        p.grad.data.zero_()
"""
    assert grade(grader, "sgd-step", code).verdict == "accepted"


# --- an optimizer's parameters --------------------------------------------------------------------------------------


def test_a_parameter_left_out_of_the_optimizer_is_named(grader: Grader) -> None:
    code = "import torch\n\ndef make_optimizer(model):\n    return torch.optim.SGD(model[2].parameters(), lr=0.1)\n"
    message = failure(grade(grader, "head-only", code), "all-train")
    assert message.startswith(
        "after step 1 of 2, `0.weight` differs from the reference: it gets a gradient but does not change: is it "
        "among the optimizer's parameters?"
    ), message


def test_a_frozen_parameter_is_named(grader: Grader) -> None:
    code = """
import torch

def make_optimizer(model):
    model[0].bias.requires_grad_(False)
    return torch.optim.SGD(model.parameters(), lr=0.1)
"""
    message = failure(grade(grader, "head-only", code), "all-train")
    assert message.startswith("after step 1 of 2, `0.bias` differs from the reference: it does not change, and ")
    assert "backward gives it no gradient: is requires_grad off" in message


# --- a scheduler, as a lambda and as a class ------------------------------------------------------------------------

SCHEDULER_RIGHT = {
    "lambda": """
import torch

def warmup_linear(optimizer, warmup, total):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda n: (n + 1) / warmup if n < warmup else max(0.0, (total - n) / (total - warmup))
    )
""",
    "class": """
import torch


class WarmupLinear(torch.optim.lr_scheduler.LRScheduler):
    def __init__(self, optimizer, warmup, total):
        self.warmup, self.total = warmup, total
        super().__init__(optimizer)

    def get_lr(self):
        n = self.last_epoch
        scale = (n + 1) / self.warmup if n < self.warmup else max(0.0, (self.total - n) / (self.total - self.warmup))
        return [base * scale for base in self.base_lrs]


def warmup_linear(optimizer, warmup, total):
    return WarmupLinear(optimizer, warmup, total)
""",
    "plain-class": """
class Schedule:
    def __init__(self, optimizer, warmup, total):
        self.optimizer, self.warmup, self.total = optimizer, warmup, total
        self.base = [group["lr"] for group in optimizer.param_groups]
        self.count = 0
        self._apply()

    def _apply(self):
        n = self.count
        scale = (n + 1) / self.warmup if n < self.warmup else max(0.0, (self.total - n) / (self.total - self.warmup))
        for group, base in zip(self.optimizer.param_groups, self.base):
            group["lr"] = base * scale

    def step(self):
        self.count += 1
        self._apply()


def warmup_linear(optimizer, warmup, total):
    return Schedule(optimizer, warmup, total)
""",
}


@pytest.mark.parametrize("style", sorted(SCHEDULER_RIGHT))
def test_right_schedulers_pass_as_a_lambda_or_a_class(grader: Grader, style: str) -> None:
    result = grade(grader, "warm-up", SCHEDULER_RIGHT[style])
    assert result.verdict == "accepted", result.to_json()


def test_a_schedule_one_step_behind_is_named(grader: Grader) -> None:
    code = SCHEDULER_RIGHT["plain-class"].replace(
        "        self.count += 1\n        self._apply()", "        self._apply()\n        self.count += 1"
    )
    message = failure(grade(grader, "warm-up", code), "schedule")
    assert message.startswith("after step 1 of 8, `optimizer.param_groups[0]['lr']` is 0.166667, expected 0.333333")
    assert "one step behind" in message


# --- the answer's own model, its parameters named otherwise ----------------------------------------------------------


def test_an_answers_model_with_other_names_is_paired_by_position(grader: Grader) -> None:
    other_names = """
import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.hidden = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))
"""
    assert grade(grader, "mlp", other_names).verdict == "accepted"
    sigmoid = other_names.replace("torch.relu", "torch.sigmoid")
    message = failure(grade(grader, "mlp", sigmoid), "trains")
    assert message.startswith("the loss of step 1 of 3 is "), message


# --- a model left in eval mode ------------------------------------------------------------------------------------


def test_a_step_in_eval_mode_is_named_by_the_buffers_that_do_not_update(grader: Grader) -> None:
    right = EXTRA_PACK.question("bn-step").solution
    assert grade(grader, "bn-step", right).verdict == "accepted"
    message = failure(grade(grader, "bn-step", right.replace("    model.train()\n", "")), "trains")
    assert message.startswith("the loss of step 1 of 2 is "), message
    assert "; `1.running_mean` does not update where the reference's does: is the model in train mode" in message


# --- an optimizer's state, which appears at its first step ---------------------------------------------------------


def test_an_optimizers_state_is_compared_once_it_appears(grader: Grader) -> None:
    right = EXTRA_PACK.question("adam-settings").solution
    assert grade(grader, "adam-settings", right).verdict == "accepted"
    message = failure(grade(grader, "adam-settings", right.replace("0.98", "0.999")), "state")
    # the first step's update does not depend on the betas (bias correction), the second moment does
    assert message.startswith(
        "after step 1 of 2, `optimizer.state_dict()['state'][0]['exp_avg_sq']` differs from the reference: "
    ), message


# --- Adam from scratch -----------------------------------------------------------------------------------------------

ADAM_HEAD = """
import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = [p for p in params]
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state = {}
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
"""
ADAM_RIGHT = {
    "no-grad-and-addcdiv": """
    @torch.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad
            state = self.state.setdefault(p, {"m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            state["m"].lerp_(g, 1 - b1)
            state["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
            denominator = (state["v"] / (1 - b2 ** self.t)).sqrt().add_(self.eps)
            p.addcdiv_(state["m"], denominator, value=-self.lr / (1 - b1 ** self.t))
""",
    "p-data": """
    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad.data + self.weight_decay * p.data
            m, v = self.state.get(i, (0.0, 0.0))
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            self.state[i] = (m, v)
            m_hat = m / (1 - b1 ** self.t)
            v_hat = v / (1 - b2 ** self.t)
            p.data = p.data - self.lr * m_hat / (torch.sqrt(v_hat) + self.eps)
""",
}
ADAM_WRONG = {
    "no-bias-correction": (
        "no-bias-correction",
        "follows-adam",
        "after step 1 of 5, `0.weight` differs from the reference: the update is 3.16 times the reference's at "
        "step 1 and 3.48 times at step 2: a factor that changes with the step count, as when Adam's bias "
        "correction",
    ),
    "eps-inside-sqrt": (
        "eps-inside-sqrt",
        "small-gradients-large-eps",
        "after step 1 of 3, `weight` differs from the reference: its update points the same way as the "
        "reference's in every coordinate but with other sizes",
    ),
    "decoupled-weight-decay": (
        "decoupled-weight-decay",
        "weight-decay",
        "after step 1 of 3, `weight` differs from the reference: its update differs from the reference's by an "
        "amount that follows the parameter's own values: weight decay is applied differently",
    ),
}


@pytest.mark.parametrize("style", sorted(ADAM_RIGHT))
def test_right_adams_pass(grader: Grader, style: str) -> None:
    result = grade(grader, "adam-from-scratch", ADAM_HEAD + ADAM_RIGHT[style])
    assert result.verdict == "accepted", result.to_json()


@pytest.mark.parametrize("mistake", sorted(ADAM_WRONG))
def test_wrong_adams_are_named(grader: Grader, mistake: str) -> None:
    decoy_id, check, words = ADAM_WRONG[mistake]
    decoy = next(d for d in CANON.question("adam-from-scratch").decoys if d.id == decoy_id)
    message = failure(grade(grader, "adam-from-scratch", decoy.code), check)
    assert message.startswith(words), message


def test_an_optimizer_that_changes_the_parameters_it_is_given_is_named_before_any_step(grader: Grader) -> None:
    code = (
        ADAM_HEAD.replace(
            "        self.t = 0\n",
            "        self.t = 0\n        for p in self.params:\n            torch.nn.init.zeros_(p)\n",
        )
        + ADAM_RIGHT["no-grad-and-addcdiv"]
    )
    message = failure(grade(grader, "adam-from-scratch", code), "follows-adam")
    assert message.startswith("right after the setup, before any step, `0.weight` differs from the reference's")
    assert "does the answer's constructor change or initialise what the setup built?" in message


def test_adam_with_weight_decay_on_the_update_fails_the_weight_decay_check(grader: Grader) -> None:
    code = ADAM_HEAD + ADAM_RIGHT["p-data"].replace(
        "g = p.grad.data + self.weight_decay * p.data", "g = p.grad.data"
    ).replace("(torch.sqrt(v_hat) + self.eps)", "(torch.sqrt(v_hat) + self.eps) - self.lr * self.weight_decay * p.data")
    result = grade(grader, "adam-from-scratch", code)
    assert [t.check for t in result.tests if t.status != "pass"] == ["weight-decay"]


# --- hostile answers ----------------------------------------------------------------------------------------------

NO_ZERO_GRAD = STEP_HEAD + STEP_WRONG["no-zero-grad"][0]
HOSTILE = {
    "forged-report": """
import sys
import quizapp.judge.training as training

training.probe = lambda spec, namespace, tensors, prefix: {"quantities": [], "steps": [
    {"step": i, "numbers": [], **({"loss": {"kind": "none"}, "grads": []} if i else {})} for i in range(5)]}
""",
    "no-op-steps": """
import quizapp.judge.training as training

training._run_step = lambda body, last, scope: 1.0
""",
    "patched-optimizer": """
import torch

torch.optim.SGD.step = lambda self, closure=None: None
torch.optim.Optimizer.zero_grad = lambda self, set_to_none=True: None
""",
    "unrecorded-gradients": """
import torch

torch.Tensor.register_post_accumulate_grad_hook = lambda self, hook: type("H", (), {"remove": lambda s: None})()
""",
    "reseeded": """
import torch

torch.manual_seed = lambda seed: torch.default_generator
""",
}


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_answers_do_not_pass(grader: Grader, attack: str) -> None:
    result = grade(grader, "fix-drifting-training-step", NO_ZERO_GRAD + HOSTILE[attack])
    assert result.verdict != "accepted", result.to_json()
    assert next(t for t in result.tests if t.check == "trains-like-the-reference").status != "pass"


def test_a_right_answer_passes_after_the_attacks(grader: Grader) -> None:
    assert grade(grader, "fix-drifting-training-step", STEP_HEAD + STEP_RIGHT["zero-grad-first"]).passed


# --- the report is judged only when it is complete ------------------------------------------------------------------


def _genuine(judged) -> tuple[dict, bytes]:
    """A right answer's facts and tensors for the zero_grad question's training check, as the jail sends them."""
    from quizapp.grading.grader import probe_payload

    question = CANON.question("fix-drifting-training-step")
    payload = probe_payload(question, question.solution, question.checks)
    outcome = judged.run("probe", payload, CANON.limits_for(question))
    assert outcome.status == "ok", outcome
    return outcome.facts["checks"]["trains-like-the-reference"], outcome.tensors


def _reencoded(blob: bytes, change) -> bytes:
    from safetensors.numpy import load, save

    arrays = dict(load(blob))
    change(arrays)
    return save(arrays)


def _drop_step(facts: dict) -> None:
    facts["steps"].pop()


def _duplicate_step(facts: dict) -> None:
    facts["steps"].insert(2, facts["steps"][1])
    facts["steps"].pop()


def _extra_step(facts: dict) -> None:
    facts["steps"].append({**facts["steps"][-1], "step": 5})


def _reordered(facts: dict) -> None:
    facts["steps"][1], facts["steps"][2] = facts["steps"][2], facts["steps"][1]


def _foreign_gradient(facts: dict) -> None:
    facts["steps"][1]["grads"] = [*facts["steps"][1]["grads"], 99]


def _extra_key(facts: dict) -> None:
    facts["steps"][1]["verdict"] = "accepted"


def _short_numbers(facts: dict) -> None:
    facts["steps"][3]["numbers"].pop()


def _no_loss(facts: dict) -> None:
    del facts["steps"][2]["loss"]


def _loss_as_text(facts: dict) -> None:
    facts["steps"][1]["loss"] = {"kind": "number", "value": "1.0"}


def _setup_error_and_results(facts: dict) -> None:
    facts["setup_error"] = {"type": "ValueError", "message": "no"}


def _stop_without_reason(facts: dict) -> None:
    facts["steps"] = facts["steps"][:3]
    facts["stopped"] = {"step": 3, "where": "step"}


def _quantity_twice(facts: dict) -> None:
    facts["steps"][1]["quantities"][1] = facts["steps"][1]["quantities"][0]


def _no_updates(facts: dict) -> None:
    del facts["steps"][4]["updates"]


FORGED_FACTS = {
    "a step without its count of updates": _no_updates,
    "a quantity named twice": _quantity_twice,
    "a step missing": _drop_step,
    "a step twice": _duplicate_step,
    "a step too many": _extra_step,
    "steps out of order": _reordered,
    "a gradient of nothing watched": _foreign_gradient,
    "an unknown key": _extra_key,
    "fewer values than quantities": _short_numbers,
    "a step without its loss": _no_loss,
    "a loss that is text": _loss_as_text,
    "a setup error beside results": _setup_error_and_results,
    "a stop without a reason": _stop_without_reason,
}
FORGED_TENSORS = {
    "a watched tensor missing": lambda arrays: arrays.pop("trains-like-the-reference/2/q0"),
    "a gradient missing": lambda arrays: arrays.pop("trains-like-the-reference/1/g3/0"),
    "a tensor of another shape": lambda arrays: arrays.update(
        {"trains-like-the-reference/3/q1": arrays["trains-like-the-reference/3/q1"][:2]}
    ),
    "a tensor nobody asked for": lambda arrays: arrays.update(
        {"trains-like-the-reference/9/q0": arrays["trains-like-the-reference/1/q0"]}
    ),
}


@pytest.fixture(scope="module")
def genuine(judged) -> tuple[dict, bytes]:
    return _genuine(judged)


def test_the_genuine_report_is_accepted(genuine) -> None:
    from quizapp.grading import facts as schema

    check = CANON.question("fix-drifting-training-step").checks[0]
    facts, blob = genuine
    data = schema.validate(check, json.loads(json.dumps(facts)), schema.TensorStore(blob))
    assert [entry["step"] for entry in data["steps"]] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("forgery", sorted(FORGED_FACTS))
def test_a_forged_report_is_refused(genuine, forgery: str) -> None:
    from quizapp.grading import facts as schema

    check = CANON.question("fix-drifting-training-step").checks[0]
    facts, blob = genuine
    forged = json.loads(json.dumps(facts))
    FORGED_FACTS[forgery](forged)
    with pytest.raises(schema.FactsRefused):
        schema.validate(check, forged, schema.TensorStore(blob))


@pytest.mark.parametrize("forgery", sorted(FORGED_TENSORS))
def test_forged_tensors_are_refused(genuine, forgery: str) -> None:
    from quizapp.grading import facts as schema

    check = CANON.question("fix-drifting-training-step").checks[0]
    facts, blob = genuine
    with pytest.raises(schema.FactsRefused):
        schema.validate(
            check, json.loads(json.dumps(facts)), schema.TensorStore(_reencoded(blob, FORGED_TENSORS[forgery]))
        )


class _Tampering:
    """The pool, with the answer's report rewritten on its way back, as a compromised child would send it."""

    def __init__(self, pool, change):
        self.pool, self.change = pool, change

    def run(self, task, payload, limits):
        outcome = self.pool.run(task, payload, limits)
        facts = json.loads(json.dumps(outcome.facts))
        self.change(facts["checks"]["trains-like-the-reference"])
        return dataclasses.replace(outcome, facts=facts)

    def submit(self, task, payload, limits):
        return self.pool.submit(task, payload, limits)


def test_a_tampered_report_fails_the_check_with_nothing_judged(judged, tmp_path: Path) -> None:
    from quizapp.grading.checks import TAMPERED

    question = CANON.question("fix-drifting-training-step")
    tampering = Grader(_Tampering(judged, _drop_step), ReferenceCache(tmp_path))
    result = tampering.grade(CANON, question, question.solution)
    assert result.verdict == "wrong_answer"
    assert result.tests[0].message.startswith(TAMPERED)
    assert "the steps reported are not 0 to 4" in result.tests[0].message
