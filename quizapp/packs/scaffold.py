"""Commented YAML to start a pack or a question from: `quizapp new pack` and `quizapp new question KIND`.

Every scaffold is a working example: it validates as written (the tests prove each one, references and
decoys included), so an instructor edits something that works rather than filling in blanks.
"""

from __future__ import annotations

import re

KINDS = ("code", "function", "fix", "choice", "predict", "explain")
NEEDS_FORMAT_2 = {"function"}  # scaffolds that use keys format 1 lacks

PACK = """\
# A quizapp question pack, format 2. Reference: docs/pack-format.md; walkthrough: docs/authoring.md.
# Check it with:  quizapp validate {file}
# Editors with the YAML language server complete and check keys with: quizapp schema > pack-format-2.schema.json
format: 2
id: {pack_id}                     # lowercase letters, digits and dashes; used as PACK in PACK/QUESTION
title: "{title}"
version: "0.1.0"                  # quoted, or YAML reads 0.1 as a number
description: |
  What this pack practises, in Markdown.
authors: ["Your Name <you@example.org>"]
licence: CC-BY-4.0                # an SPDX identifier
tags: [pytorch]
defaults:
  limits:                         # per job in the jail; a question's `limits` overrides key by key
    cpu_seconds: 5
    wall_seconds: 10
    memory_mb: 768

questions:
"""

QUESTIONS = {
    "code": """\
  - id: {question_id}
    kind: code
    title: "Scale a tensor by a learnt vector"
    difficulty: easy              # easy, medium or hard
    tags: [nn.Parameter]
    minutes: 5                    # estimated; mock interviews use it for their clock
    prompt: |
      Write `Scale(features)`: a module with one learnt weight of shape `(features,)`, initialised to
      ones, that multiplies its input by it.
    signature: "Scale(features)"  # shown to the learner
    entry_point: Scale            # the class or function the learner defines
    starter: |
      import torch
      from torch import nn


      class Scale(nn.Module):
          def __init__(self, features):
              super().__init__()
              ...

          def forward(self, x):
              ...
    solution: |                   # the reference: never shown before an answer, not in student builds
      import torch
      from torch import nn


      class Scale(nn.Module):
          def __init__(self, features):
              super().__init__()
              self.weight = nn.Parameter(torch.ones(features))

          def forward(self, x):
              return x * self.weight
    hints:                        # revealed one at a time; lead, don't tell
      - "A tensor becomes a trained weight when it is wrapped in `nn.Parameter`."
    explanation: |
      `nn.Parameter` registers the tensor with the module, so `parameters()` and the optimizer see it.
    checks:
      - id: outputs               # outputs against the reference, canonically initialised
        kind: outputs
        title: Outputs match the reference
        cases:
          - name: "3 features"
            args: [3]
            inputs: [[2, 3]]      # one forward call per entry: a random tensor of this shape
      - id: registered
        kind: structure
        title: The weight is a parameter
        cases: [{{args: [3]}}]
        param_count: reference    # or a number
        message: "the weight must be an nn.Parameter, so the optimizer can train it"
      - id: gradients
        kind: gradients
        visible: false            # hidden: only Submit runs it, and shows only this message
        cases: [{{args: [3], inputs: [[2, 3]]}}]
        message: "gradients differ from the reference"
    decoys:                       # known-wrong answers; each must fail the check it names
      - id: plain-tensor
        description: Keeps the weight as a plain tensor, so it is not a parameter.
        fails: registered
        code: |
          import torch
          from torch import nn


          class Scale(nn.Module):
              def __init__(self, features):
                  super().__init__()
                  self.weight = torch.ones(features)

              def forward(self, x):
                  return x * self.weight
      - id: adds-instead
        description: Adds the weight instead of multiplying by it.
        fails: outputs
        code: |
          import torch
          from torch import nn


          class Scale(nn.Module):
              def __init__(self, features):
                  super().__init__()
                  self.weight = nn.Parameter(torch.ones(features))

              def forward(self, x):
                  return x + self.weight
      - id: detached
        description: Detaches the weight, so it gets no gradient.
        fails: gradients
        code: |
          import torch
          from torch import nn


          class Scale(nn.Module):
              def __init__(self, features):
                  super().__init__()
                  self.weight = nn.Parameter(torch.ones(features))

              def forward(self, x):
                  return x * self.weight.detach()
""",
    "function": """\
  - id: {question_id}
    kind: code
    title: "Mean over the positions a mask keeps"
    difficulty: easy
    tags: [masks]
    minutes: 5
    prompt: |
      Write the function `masked_mean(x, mask, dim)`: the mean of `x` along `dim`, counting only the
      positions where the boolean `mask` (the same shape as `x`) is True.
    signature: "masked_mean(x, mask, dim)"
    entry_point: masked_mean
    entry_point_kind: function    # each call calls the function itself: nothing is constructed
    starter: |
      import torch


      def masked_mean(x, mask, dim):
          ...
    solution: |
      import torch


      def masked_mean(x, mask, dim):
          kept = mask.to(x.dtype)
          return (x * kept).sum(dim) / kept.sum(dim)
    hints:
      - "Turn the mask into 0s and 1s: it zeroes what is left out, and its sum counts what is kept."
    explanation: |
      Multiplying by the mask removes the left-out values from the sum; dividing by the mask's sum, not by
      the length of `dim`, averages over the kept ones only.
    checks:
      - id: outputs
        kind: outputs
        title: Outputs match the reference
        cases:
          - calls:                # one call per entry: positional `args` and keyword `kwargs`
              - args:
                  - {{shape: [3, 4]}}     # a mapping with `shape` (or `values`) is a tensor
                  - dtype: bool         # a literal boolean mask
                    values: [[true, false, true, true], [true, true, false, false], [false, false, false, true]]
                  - 1                   # anything else is passed as it is
              - name: "dim as a keyword"
                args: [{{shape: [2, 3]}}, {{values: [[true, true, false], [false, true, true]], dtype: bool}}]
                kwargs: {{dim: 0}}
      - id: gradients
        kind: gradients
        visible: false
        cases:
          - calls:
              - args: [{{shape: [2, 3]}}, {{values: [[true, false, true], [true, true, false]], dtype: bool}}, 1]
        message: "gradients differ from the reference"
    decoys:
      - id: plain-mean
        description: Divides by the length of dim, counting the left-out positions.
        fails: outputs
        code: |
          import torch


          def masked_mean(x, mask, dim):
              return (x * mask.to(x.dtype)).mean(dim)
      - id: detached
        description: Detaches x, so no gradient reaches it.
        fails: gradients
        code: |
          import torch


          def masked_mean(x, mask, dim):
              kept = mask.to(x.dtype)
              return (x.detach() * kept).sum(dim) / kept.sum(dim)
""",
    "fix": """\
  - id: {question_id}
    kind: fix
    title: "The missing super().__init__()"
    difficulty: easy
    minutes: 3
    prompt: |
      `Doubler(features)` fails as soon as it is constructed. Fix it.
    signature: "Doubler(features)"
    entry_point: Doubler
    defects: 1                    # shown to the learner: "There are 1 defects."
    starter: |                    # the code with its defects
      from torch import nn


      class Doubler(nn.Module):
          def __init__(self, features):
              self.linear = nn.Linear(features, features)

          def forward(self, x):
              return 2 * self.linear(x)
    solution: |
      from torch import nn


      class Doubler(nn.Module):
          def __init__(self, features):
              super().__init__()
              self.linear = nn.Linear(features, features)

          def forward(self, x):
              return 2 * self.linear(x)
    hints:
      - "Read the error: what must run before a submodule can be assigned?"
    explanation: |
      `nn.Module.__init__` creates the dictionaries that registering a submodule writes to.
    checks:
      - id: outputs
        kind: outputs
        cases: [{{args: [4], inputs: [[2, 4]]}}]
    decoys:
      - id: unchanged
        description: The starter as given.
        fails: outputs
        code: |
          from torch import nn


          class Doubler(nn.Module):
              def __init__(self, features):
                  self.linear = nn.Linear(features, features)

              def forward(self, x):
                  return 2 * self.linear(x)
""",
    "choice": """\
  - id: {question_id}
    kind: choice
    title: "Which container has a forward?"
    difficulty: easy
    minutes: 1
    prompt: |
      Which of these can be called on a tensor, `container(x)`?
    select: one                   # one (radio buttons) or many (tick all that apply)
    options:
      - id: sequential
        text: "`nn.Sequential`"
        correct: true
        feedback: Its forward runs the children in order.
      - id: modulelist
        text: "`nn.ModuleList`"
        feedback: It registers modules but has no forward.
    hints:
      - One of them only holds modules.
    explanation: |
      `nn.Sequential` is a Module whose forward chains its children; `nn.ModuleList` only registers them.
""",
    "predict": """\
  - id: {question_id}
    kind: predict
    title: "ReLU of a ReLU"
    difficulty: easy
    minutes: 1
    prompt: |
      What does this print?
    snippet: |                    # run as a script by `quizapp validate`: its printout must be `answer`
      import torch
      print(torch.relu(torch.relu(torch.tensor([-1.0, 2.0]))))
    answer: "tensor([0., 2.])"    # exactly what it prints; usual spellings are accepted when grading
    hints:
      - ReLU keeps positive values and zeroes the rest.
    explanation: |
      ReLU is idempotent: ReLU(ReLU(x)) = ReLU(x).
""",
    "explain": """\
  - id: {question_id}
    kind: explain
    title: "Why not a plain list?"
    difficulty: easy
    minutes: 3
    prompt: |
      Why keep layers in an `nn.ModuleList` rather than a Python list?
    model_answer: |
      Only registered modules are seen by `parameters()`, `to()` and `state_dict()`. A ModuleList registers
      its items; a plain list registers nothing, so those layers are never trained, moved or saved.
    rubric:                       # points the learner ticks against their own answer
      - id: registration
        text: Registration is what makes parameters visible.
      - id: consequences
        text: Unregistered layers are not trained, moved or saved.
    hints:
      - What does the optimizer iterate over?
    explanation: |
      `nn.Module.__setattr__` registers Modules and Parameters, not lists of them.
""",
}


def pack_text(pack_id: str, title: str, file: str, kinds: tuple[str, ...] = ("code",)) -> str:
    text = PACK.format(pack_id=pack_id, title=title.replace('"', "'"), file=file)
    for kind in kinds:
        text += question_text(kind, f"my-first-{kind}-question")
    return text


def question_text(kind: str, question_id: str) -> str:
    return QUESTIONS[kind].format(question_id=question_id)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "my-pack"


def append_question(pack_yaml: str, kind: str, question_id: str) -> str:
    """The pack's text with a question added at the end of its `questions:` list (the last key, as in
    every scaffold); a format-1 pack says format 2 when the question needs it (nothing else changes). The
    caller validates the result and keeps the original if it does not load."""
    body = pack_yaml if pack_yaml.endswith("\n") else pack_yaml + "\n"
    if kind in NEEDS_FORMAT_2:
        body = re.sub(r"^format:[ \t]*1[ \t]*(#.*)?$", "format: 2", body, count=1, flags=re.M)
    return body + "\n" + question_text(kind, question_id)
