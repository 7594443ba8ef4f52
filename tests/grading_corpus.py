# ruff: noqa: E501 - answers are quoted as people write them
"""A corpus of answers to every code and fix question of the built-in pack `torch-modules`, written the way
people write them: right ones in real-world styles (torchvision's BasicBlock with `downsample`, the CIFAR
block, helper functions, dataclass configs, OrderedDicts, reduce), and wrong ones with the mistakes candidates
make. Each carries its expected verdict and the words the headline (the Result's message) must contain:
the headline must name the defect, not only say that something differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from textwrap import dedent


@dataclass(frozen=True)
class Answer:
    question: str
    name: str
    code: str
    verdict: str = "accepted"
    words: tuple[str, ...] = field(default_factory=tuple)  # the headline holds each, case-insensitively
    # False where the headline only locates the defect (the first layer whose output differs), not names it:
    # the words then hold the location, and the figures do not count the answer as named.
    named: bool = True


CORPUS: list[Answer] = []


def right(question: str, name: str, code: str) -> None:
    CORPUS.append(Answer(question, name, dedent(code)))


def wrong(question: str, name: str, code: str, verdict: str, *words: str) -> None:
    CORPUS.append(Answer(question, name, dedent(code), verdict, words))


def located(question: str, name: str, code: str, verdict: str, *words: str) -> None:
    """A wrong answer whose headline says where, not what: a defect in forward's own maths between layers."""
    CORPUS.append(Answer(question, name, dedent(code), verdict, words, named=False))


# === resnet-residual-block: right ========================================================================

R = "resnet-residual-block"

right(
    R,
    "torchvision-basicblock-downsample",
    """
    import torch
    import torch.nn as nn


    def conv3x3(in_planes, out_planes, stride=1):
        \"\"\"3x3 convolution with padding\"\"\"
        return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


    def conv1x1(in_planes, out_planes, stride=1):
        return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


    class ResidualBlock(nn.Module):
        expansion = 1

        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = conv3x3(in_channels, out_channels, stride)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = conv3x3(out_channels, out_channels)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.downsample = None
            if stride != 1 or in_channels != out_channels:
                self.downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
            self.stride = stride

        def forward(self, x):
            identity = x

            out = self.conv1(x)
            out = self.bn1(out)
            out = self.relu(out)

            out = self.conv2(out)
            out = self.bn2(out)

            if self.downsample is not None:
                identity = self.downsample(x)

            out += identity
            out = self.relu(out)

            return out
""",
)

right(
    R,
    "cifar-basicblock-empty-sequential",
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super(ResidualBlock, self).__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)

            self.shortcut = nn.Sequential()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels)
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            out = F.relu(out)
            return out
""",
)

right(
    R,
    "shortcut-computed-first",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.project = None
            if stride != 1 or in_channels != out_channels:
                self.project = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )
            self.first = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
            self.first_bn = nn.BatchNorm2d(out_channels)
            self.second = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
            self.second_bn = nn.BatchNorm2d(out_channels)

        def forward(self, x):
            shortcut = x if self.project is None else self.project(x)
            out = torch.relu(self.first_bn(self.first(x)))
            out = self.second_bn(self.second(out))
            return torch.relu(torch.add(out, shortcut))
""",
)

right(
    R,
    "sequential-body-add-inplace",
    """
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
            )
            self.shortcut = nn.Identity()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )
            self.act = nn.ReLU()

        def forward(self, x):
            out = self.body(x)
            out.add_(self.shortcut(x))
            return self.act(out)
""",
)

right(
    R,
    "module-dict-plus-equals",
    """
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.layers = nn.ModuleDict({
                "c1": nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                "b1": nn.BatchNorm2d(out_channels),
                "c2": nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
                "b2": nn.BatchNorm2d(out_channels),
            })
            self.needs_projection = stride != 1 or in_channels != out_channels
            if self.needs_projection:
                self.proj_conv = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
                self.proj_bn = nn.BatchNorm2d(out_channels)

        def forward(self, x):
            out = self.layers["b1"](self.layers["c1"](x)).relu()
            out = self.layers["b2"](self.layers["c2"](out))
            out += self.proj_bn(self.proj_conv(x)) if self.needs_projection else x
            return out.relu_()
""",
)

right(
    R,
    "dataclass-config",
    """
    from dataclasses import dataclass

    import torch
    from torch import nn
    import torch.nn.functional as F


    @dataclass(frozen=True)
    class BlockConfig:
        in_channels: int
        out_channels: int
        stride: int = 1

        @property
        def needs_projection(self) -> bool:
            return self.stride != 1 or self.in_channels != self.out_channels


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.config = BlockConfig(in_channels, out_channels, stride)
            c = self.config
            self.conv1 = nn.Conv2d(c.in_channels, c.out_channels, 3, c.stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c.out_channels)
            self.conv2 = nn.Conv2d(c.out_channels, c.out_channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c.out_channels)
            self.shortcut = (
                nn.Sequential(nn.Conv2d(c.in_channels, c.out_channels, 1, c.stride, bias=False), nn.BatchNorm2d(c.out_channels))
                if c.needs_projection
                else nn.Identity()
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return F.relu(y + self.shortcut(x))
""",
)

right(
    R,
    "conv-bn-helper",
    """
    import torch
    from torch import nn


    def conv_bn(cin, cout, kernel, stride):
        return nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
        )


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.a = conv_bn(in_channels, out_channels, 3, stride)
            self.b = conv_bn(out_channels, out_channels, 3, 1)
            if stride == 1 and in_channels == out_channels:
                self.skip = nn.Identity()
            else:
                self.skip = conv_bn(in_channels, out_channels, 1, stride)

        def forward(self, x):
            return torch.relu(self.b(torch.relu(self.a(x))) + self.skip(x))
""",
)

right(
    R,
    "ordered-dict-main-path",
    """
    from collections import OrderedDict

    import torch
    import torch.nn as nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.main = nn.Sequential(OrderedDict([
                ("conv1", nn.Conv2d(in_channels, out_channels, (3, 3), (stride, stride), (1, 1), bias=False)),
                ("bn1", nn.BatchNorm2d(out_channels)),
                ("relu1", nn.ReLU()),
                ("conv2", nn.Conv2d(out_channels, out_channels, (3, 3), (1, 1), (1, 1), bias=False)),
                ("bn2", nn.BatchNorm2d(out_channels)),
            ]))
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(OrderedDict([
                    ("conv", nn.Conv2d(in_channels, out_channels, (1, 1), (stride, stride), bias=False)),
                    ("bn", nn.BatchNorm2d(out_channels)),
                ]))
            else:
                self.shortcut = nn.Identity()
            self.relu2 = nn.ReLU()

        def forward(self, x):
            return self.relu2(self.main(x) + self.shortcut(x))
""",
)

right(
    R,
    "module-list-main-path",
    """
    import torch
    from torch import nn
    from torch.nn import functional as F


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.convs = nn.ModuleList([
                nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            ])
            self.norms = nn.ModuleList([nn.BatchNorm2d(out_channels) for _ in range(2)])
            self.shortcut = nn.Sequential()
            if stride > 1 or in_channels != out_channels:
                self.shortcut.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False))
                self.shortcut.add_module("bn", nn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = x
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
                out = norm(conv(out))
                if i == 0:
                    out = F.relu(out)
            return F.relu(out + self.shortcut(x))
""",
)

right(
    R,
    "add-module-registration",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.add_module("conv1", nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False))
            self.add_module("bn1", nn.BatchNorm2d(out_channels))
            self.add_module("conv2", nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False))
            self.add_module("bn2", nn.BatchNorm2d(out_channels))
            self.has_proj = stride != 1 or in_channels != out_channels
            if self.has_proj:
                self.register_module("proj", nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)))

        def forward(self, x):
            h = self.bn2(self.conv2(self.bn1(self.conv1(x)).clamp(min=0)))
            s = self.proj(x) if self.has_proj else x
            return (h + s).clamp(min=0)
""",
)

right(
    R,
    "separate-relu-modules",
    """
    import torch.nn as nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=3,
                                   stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(num_features=out_channels, eps=1e-5, momentum=0.1)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(in_channels=out_channels, out_channels=out_channels, kernel_size=3,
                                   stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(num_features=out_channels, eps=1e-5, momentum=0.1)
            self.relu2 = nn.ReLU()
            self.shortcut = nn.Identity()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=(1, 1), stride=stride, padding=0, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

        def forward(self, x):
            residual = self.shortcut(x)
            x = self.relu1(self.bn1(self.conv1(x)))
            x = self.bn2(self.conv2(x))
            x = x + residual
            return self.relu2(x)
""",
)

right(
    R,
    "lambda-identity-shortcut",
    """
    import torch
    from torch import nn
    import torch.nn.functional as F


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            if stride != 1 or in_channels != out_channels:
                self.shortcut_conv = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
                self.shortcut_bn = nn.BatchNorm2d(out_channels)
                self.shortcut = lambda t: self.shortcut_bn(self.shortcut_conv(t))
            else:
                self.shortcut = lambda t: t

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)), inplace=True)
            out = self.bn2(self.conv2(out))
            return F.relu(out.add(self.shortcut(x)))
""",
)

right(
    R,
    "sum-of-branches",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.branch = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False), nn.BatchNorm2d(out_channels),
                nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels))
            self.skip = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                       nn.BatchNorm2d(out_channels))
                         if (stride, in_channels) != (1, out_channels) else nn.Sequential())

        def forward(self, x):
            return torch.relu(sum([self.branch(x), self.skip(x)]))
""",
)

right(
    R,
    "functional-conv-with-registered-weights",
    """
    import torch
    from torch import nn
    import torch.nn.functional as F


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.stride = stride
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, bias=False)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(out_channels), nn.BatchNorm2d(out_channels)
            self.down = None
            if stride != 1 or in_channels != out_channels:
                self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

        def forward(self, x):
            y = F.conv2d(x, self.conv1.weight, stride=self.stride, padding=1)
            y = F.relu(self.bn1(y))
            y = self.bn2(F.conv2d(y, self.conv2.weight, padding=1))
            return F.relu(y + (x if self.down is None else self.down(x)))
""",
)

right(
    R,
    "typed-with-optional-projection",
    """
    from typing import Optional

    import torch
    from torch import Tensor, nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
            self.norm1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
            self.norm2 = nn.BatchNorm2d(out_channels)
            self.projection: Optional[nn.Module] = None
            if stride != 1 or in_channels != out_channels:
                self.projection = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )
            self.activation = nn.ReLU(inplace=True)

        def forward(self, x: Tensor) -> Tensor:
            skip = x if self.projection is None else self.projection(x)
            h = self.activation(self.norm1(self.conv1(x)))
            h = self.norm2(self.conv2(h))
            return self.activation(h + skip)
""",
)

right(
    R,
    "setattr-loop",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            specs = [("conv1", in_channels, stride), ("conv2", out_channels, 1)]
            for name, cin, s in specs:
                setattr(self, name, nn.Conv2d(cin, out_channels, 3, s, 1, bias=False))
                setattr(self, name.replace("conv", "bn"), nn.BatchNorm2d(out_channels))
            self.use_proj = stride != 1 or in_channels != out_channels
            if self.use_proj:
                self.proj = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out = out + (self.proj(x) if self.use_proj else x)
            return torch.relu(out)
""",
)

right(
    R,
    "functional-relu-inplace",
    """
    import torch
    from torch import nn
    import torch.nn.functional as F


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.c1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.n1 = nn.BatchNorm2d(out_channels)
            self.c2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.n2 = nn.BatchNorm2d(out_channels)
            self.sc = nn.Sequential()
            if stride != 1 or in_channels != out_channels:
                self.sc = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                        nn.BatchNorm2d(out_channels))

        def forward(self, x):
            y = F.relu_(self.n1(self.c1(x)))
            y = self.n2(self.c2(y))
            y += self.sc(x)
            return F.relu_(y)
""",
)

right(
    R,
    "torch-nn-full-paths",
    """
    import torch


    class ResidualBlock(torch.nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(out_channels)
            self.conv2 = torch.nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
            self.bn2 = torch.nn.BatchNorm2d(out_channels)
            self.shortcut = torch.nn.Identity()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = torch.nn.Sequential(
                    torch.nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                    torch.nn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = torch.nn.functional.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.nn.functional.relu(out + self.shortcut(x))
""",
)

right(
    R,
    "static-shortcut-builder",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.shortcut = self._make_shortcut(in_channels, out_channels, stride)

        @staticmethod
        def _make_shortcut(cin, cout, stride):
            if stride == 1 and cin == cout:
                return nn.Identity()
            return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))
""",
)

right(
    R,
    "shape-test-in-forward",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            if stride != 1 or in_channels != out_channels:
                self.proj = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            if out.shape == x.shape:
                out = out + x
            else:
                out = out + self.proj(x)
            return torch.relu(out)
""",
)

# === resnet-residual-block: wrong ========================================================================

RESNET_BASE = """
    import torch
    from torch import nn
    import torch.nn.functional as F


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out = out + self.shortcut(x)
            return F.relu(out)
"""


def resnet(*changes: tuple[str, str]) -> str:
    """The base block with exact substitutions; each must apply exactly once."""
    code = RESNET_BASE
    for old, new in changes:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


right(R, "base-block", RESNET_BASE)

wrong(
    R,
    "no-skip-connection",
    resnet(("            out = out + self.shortcut(x)\n", "")),
    "wrong_answer",
    "no skip connection",
)
wrong(
    R,
    "relu-before-the-add",
    resnet(
        (
            "            out = self.bn2(self.conv2(out))\n            out = out + self.shortcut(x)\n            return F.relu(out)",
            "            out = F.relu(self.bn2(self.conv2(out)))\n            return out + self.shortcut(x)",
        )
    ),
    "wrong_answer",
    "ReLU after the addition",
)
wrong(
    R,
    "no-final-relu",
    resnet(("            return F.relu(out)", "            return out")),
    "wrong_answer",
    "ReLU after the addition",
)
wrong(
    R,
    "sigmoid-at-the-end",
    resnet(("            return F.relu(out)", "            return torch.sigmoid(out)")),
    "wrong_answer",
    "sigmoid",
)
wrong(
    R,
    "no-projection",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + x)
""",
    "runtime_error",
    "projection shortcut is missing",
)
wrong(
    R,
    "stride-on-the-second-conv",
    resnet(
        ("out_channels, kernel_size=3, stride=1, padding=1", "out_channels, kernel_size=3, stride=STRIDE, padding=1"),
        ("kernel_size=3, stride=stride, padding=1", "kernel_size=3, stride=1, padding=1"),
        ("stride=STRIDE", "stride=stride"),
    ),
    "wrong_answer",
    "stride",
)
wrong(
    R,
    "conv-with-bias",
    resnet(
        ("stride=stride, padding=1, bias=False)", "stride=stride, padding=1)"),
        ("stride=1, padding=1, bias=False)", "stride=1, padding=1)"),
    ),
    "wrong_answer",
    "conv1.bias",
    "conv2.bias",
)
wrong(
    R,
    "second-conv-1x1",
    resnet(("out_channels, kernel_size=3, stride=1, padding=1", "out_channels, kernel_size=1, stride=1, padding=0")),
    "wrong_answer",
    "conv2.weight",
)
wrong(
    R,
    "padding-zero",
    resnet(("kernel_size=3, stride=stride, padding=1", "kernel_size=3, stride=stride, padding=0")),
    "runtime_error",
    "conv1",
    "padding",
)
wrong(
    R,
    "bn-on-input-channels",
    resnet(("self.bn1 = nn.BatchNorm2d(out_channels)", "self.bn1 = nn.BatchNorm2d(in_channels)")),
    "runtime_error",
    "BatchNorm2d(16)",
    "bn1",
    "receives 32 channels",
)
wrong(
    R,
    "shortcut-without-batchnorm",
    resnet(("                    nn.BatchNorm2d(out_channels),\n                )", "                )")),
    "wrong_answer",
    "BatchNorm2d",
)
wrong(
    R,
    "shortcut-3x3",
    resnet(("kernel_size=1, stride=stride, bias=False", "kernel_size=3, stride=stride, padding=1, bias=False")),
    "wrong_answer",
    "shortcut.0.weight",
)
wrong(
    R,
    "shortcut-without-stride",
    resnet(("kernel_size=1, stride=stride, bias=False", "kernel_size=1, bias=False")),
    "runtime_error",
    "shortcut",
)
wrong(
    R,
    "batchnorm-eps",
    resnet(("self.bn2 = nn.BatchNorm2d(out_channels)", "self.bn2 = nn.BatchNorm2d(out_channels, eps=0.1)")),
    "wrong_answer",
    "bn2",
    "eps",
)
wrong(
    R,
    "dropout-in-the-block",
    resnet(
        (
            "            out = self.bn2(self.conv2(out))\n",
            "            out = self.bn2(self.conv2(F.dropout(out, 0.2, self.training)))\n",
        )
    ),
    "wrong_answer",
    "random",
)
wrong(
    R,
    "leaky-relu",
    resnet(("            return F.relu(out)", "            return F.leaky_relu(out, 0.1)")),
    "wrong_answer",
    "leaky_relu",
)
wrong(
    R,
    "detached-shortcut",
    resnet(("out = out + self.shortcut(x)", "out = out + self.shortcut(x).detach()")),
    "wrong_answer",
    "gradient",
    "shortcut.0.weight",
    "detach",
)
wrong(
    R,
    "layers-in-a-plain-list",
    """
    import torch
    from torch import nn


    class ResidualBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            self.main = [
                nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
            ]
            self.shortcut = nn.Identity()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = x
            for layer in self.main:
                out = layer(out)
            return torch.relu(out + self.shortcut(x))
""",
    "wrong_answer",
    "plain list",
)
wrong(
    R,
    "just-a-sequential",
    """
    from torch import nn


    def ResidualBlock(in_channels, out_channels, stride=1):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
        )
""",
    "wrong_answer",
    "no skip connection",
)
wrong(R, "no-super-init", resnet(("            super().__init__()\n", "")), "runtime_error", "super().__init__()")
wrong(
    R,
    "swapped-conv-channels",
    resnet(
        ("nn.Conv2d(in_channels, out_channels, kernel_size=3", "nn.Conv2d(out_channels, in_channels, kernel_size=3")
    ),
    "runtime_error",
    "conv1",
)
wrong(
    R,
    "returns-a-tuple",
    resnet(("            return F.relu(out)", "            return F.relu(out), out")),
    "wrong_answer",
    "tuple",
)
wrong(
    R,
    "shortcut-of-the-output",
    resnet(("out = out + self.shortcut(x)", "out = out + self.shortcut(out)")),
    "runtime_error",
    "shortcut.0",
)
wrong(
    R,
    "relu-on-the-shortcut",
    resnet(("out = out + self.shortcut(x)", "out = out + F.relu(self.shortcut(x))")),
    "wrong_answer",
    "relu",
)

# === my-sequential ======================================================================================

S = "my-sequential"

right(
    S,
    "add-module-children",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, x):
            for module in self.children():
                x = module(x)
            return x
""",
)
right(
    S,
    "underscore-modules-dict",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self._modules[str(idx)] = module

        def forward(self, X):
            for block in self._modules.values():
                X = block(X)
            return X
""",
)
right(
    S,
    "setattr-names",
    """
    import torch
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *layers):
            super().__init__()
            self.n = len(layers)
            for i, layer in enumerate(layers):
                setattr(self, f"layer{i}", layer)

        def forward(self, x):
            for i in range(self.n):
                x = getattr(self, f"layer{i}")(x)
            return x
""",
)
right(
    S,
    "reduce",
    """
    from functools import reduce

    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for i, m in enumerate(modules):
                self.register_module(f"m{i}", m)

        def forward(self, x):
            return reduce(lambda acc, module: module(acc), self.children(), x)
""",
)
right(
    S,
    "named-children-and-indexing",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

        def __len__(self):
            return len(self._modules)

        def __getitem__(self, index):
            return list(self._modules.values())[index]

        def forward(self, x):
            for _name, module in self.named_children():
                x = module(x)
            return x
""",
)
right(
    S,
    "index-loop",
    """
    import torch.nn as nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for idx, module in enumerate(modules):
                self.add_module(f"{idx}", module)

        def forward(self, inputs):
            out = inputs
            for idx in range(len(self._modules)):
                out = self._modules[str(idx)](out)
            return out
""",
)
right(
    S,
    "ordered-dict-or-modules",
    """
    from collections import OrderedDict

    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            if len(args) == 1 and isinstance(args[0], OrderedDict):
                for key, module in args[0].items():
                    self.add_module(key, module)
            else:
                for idx, module in enumerate(args):
                    self.add_module(str(idx), module)

        def forward(self, input):
            for module in self._modules.values():
                input = module(input)
            return input
""",
)

right(
    S,
    "layer-names-from-one",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for i, module in enumerate(modules, start=1):
                self.add_module(f"layer_{i}", module)

        def forward(self, x):
            for _, module in self._modules.items():
                x = module(x)
            return x
""",
)
right(
    S,
    "while-loop",
    """
    import torch
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            self.count = 0
            for module in modules:
                self.add_module(str(self.count), module)
                self.count += 1

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            i = 0
            children = list(self.children())
            while i < len(children):
                x = children[i](x)
                i += 1
            return x
""",
)
right(
    S,
    "register-and-keep-order",
    """
    from torch import nn


    class MySequential(nn.Module):
        \"\"\"A minimal Sequential.\"\"\"

        def __init__(self, *modules: nn.Module) -> None:
            super().__init__()
            for position, module in enumerate(modules):
                if not isinstance(module, nn.Module):
                    raise TypeError(f"{module!r} is not a Module")
                self.register_module(str(position), module)

        def forward(self, x):
            result = x
            for child in self.children():
                result = child(result)
            return result
""",
)

wrong(
    S,
    "plain-list",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            self.layers = list(modules)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
""",
    "wrong_answer",
    "plain list",
)
wrong(
    S,
    "subclass-sequential",
    """
    from torch import nn


    class MySequential(nn.Sequential):
        pass
""",
    "wrong_answer",
    "write the container yourself",
)
wrong(
    S,
    "aliased-sequential",
    """
    import torch.nn as tnn


    class MySequential(tnn.Module):
        def __init__(self, *modules):
            super().__init__()
            for i, m in enumerate(modules):
                self.add_module(str(i), m)
            self.run = tnn.Sequential(*modules)

        def forward(self, x):
            return self.run(x)
""",
    "wrong_answer",
    "write the container yourself",
)
wrong(
    S,
    "reversed-order",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, x):
            for module in reversed(list(self.children())):
                x = module(x)
            return x
""",
    "runtime_error",
    "Linear",
)
wrong(
    S,
    "module-list-child",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            self.layers = nn.ModuleList(modules)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x
""",
    "wrong_answer",
    "children()",
)
wrong(
    S,
    "result-not-kept",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, x):
            out = x
            for module in self.children():
                out = module(x)
            return out
""",
    "runtime_error",
    "Linear",
)
wrong(
    S,
    "iterates-self-modules",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, x):
            for module in self.modules():
                x = module(x)
            return x
""",
    "runtime_error",
    "modules()",
    "itself",
)
wrong(
    S,
    "no-super-init",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, x):
            for module in self.children():
                x = module(x)
            return x
""",
    "runtime_error",
    "super().__init__()",
)
wrong(
    S,
    "returns-the-input",
    """
    from torch import nn


    class MySequential(nn.Module):
        def __init__(self, *modules):
            super().__init__()
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, x):
            y = x
            for module in self.children():
                y = module(y)
            return x
""",
    "wrong_answer",
    "input unchanged",
)

# === mlp-stack ==========================================================================================

M = "mlp-stack"

right(
    M,
    "modulelist-comprehension",
    """
    from torch import nn
    from torch.nn import functional as F


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for index, layer in enumerate(self.layers):
                if index > 0:
                    x = F.relu(x)
                x = layer(x)
            return x
""",
)
right(
    M,
    "append-loop-last-apart",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList()
            for _ in range(depth):
                self.layers.append(nn.Linear(width, width))

        def forward(self, x):
            for layer in self.layers[:-1]:
                x = torch.relu(layer(x))
            return self.layers[-1](x)
""",
)
right(
    M,
    "sequential-interleaved",
    """
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            layers = []
            for i in range(depth):
                if i:
                    layers.append(nn.ReLU())
                layers.append(nn.Linear(width, width))
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            return self.net(x)
""",
)
right(
    M,
    "module-dict",
    """
    import torch.nn as nn
    import torch.nn.functional as F


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.depth = depth
            self.fcs = nn.ModuleDict({f"fc{i}": nn.Linear(width, width) for i in range(depth)})

        def forward(self, x):
            for i in range(self.depth):
                x = self.fcs[f"fc{i}"](x)
                if i < self.depth - 1:
                    x = F.relu(x)
            return x
""",
)
right(
    M,
    "setattr-getattr",
    """
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.depth = depth
            for i in range(depth):
                setattr(self, f"fc{i}", nn.Linear(width, width))
            self.act = nn.ReLU()

        def forward(self, x):
            for i in range(self.depth):
                x = getattr(self, f"fc{i}")(x if i == 0 else self.act(x))
            return x
""",
)
right(
    M,
    "dataclass-config",
    """
    from dataclasses import dataclass

    import torch
    from torch import nn


    @dataclass
    class MLPConfig:
        width: int
        depth: int


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.cfg = MLPConfig(width, depth)
            self.layers = nn.ModuleList([nn.Linear(self.cfg.width, self.cfg.width) for _ in range(self.cfg.depth)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.layers[0](x)
            for layer in self.layers[1:]:
                x = layer(x.relu())
            return x
""",
)
right(
    M,
    "nested-sequential-blocks",
    """
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            blocks = [nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(depth - 1)]
            self.body = nn.Sequential(*blocks, nn.Linear(width, width))

        def forward(self, x):
            return self.body(x)
""",
)
right(
    M,
    "zip-with-flags",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width: int, depth: int):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
            self.activate = [True] * (depth - 1) + [False]

        def forward(self, x):
            for layer, activate in zip(self.layers, self.activate):
                x = layer(x)
                if activate:
                    x = torch.clamp(x, min=0)
            return x
""",
)
right(
    M,
    "extend",
    """
    from torch import nn
    import torch.nn.functional as F


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.hidden = nn.ModuleList()
            self.hidden.extend(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            n = len(self.hidden)
            for i, lin in enumerate(self.hidden):
                x = lin(x)
                x = F.relu(x) if i != n - 1 else x
            return x
""",
)

right(
    M,
    "index-range",
    """
    import torch.nn.functional as F
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.depth = depth
            self.linears = nn.ModuleList([nn.Linear(width, width) for i in range(depth)])

        def forward(self, x):
            for i in range(self.depth):
                x = self.linears[i](x)
                if i < self.depth - 1:
                    x = F.relu(x)
            return x
""",
)
right(
    M,
    "sequential-add-module",
    """
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.model = nn.Sequential()
            for i in range(depth):
                self.model.add_module(f"linear{i}", nn.Linear(width, width))
                if i < depth - 1:
                    self.model.add_module(f"relu{i}", nn.ReLU())

        def forward(self, x):
            return self.model(x)
""",
)

wrong(
    M,
    "dropout-between",
    """
    from torch import nn
    import torch.nn.functional as F


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(self.drop(F.relu(x)) if i else x)
            return x
""",
    "wrong_answer",
    "random",
)
wrong(
    M,
    "plain-list",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = [nn.Linear(width, width) for _ in range(depth)]

        def forward(self, x):
            for index, layer in enumerate(self.layers):
                if index > 0:
                    x = torch.relu(x)
                x = layer(x)
            return x
""",
    "wrong_answer",
    "plain list",
)
wrong(
    M,
    "one-layer-repeated",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(width, width)] * depth)

        def forward(self, x):
            for index, layer in enumerate(self.layers):
                if index > 0:
                    x = torch.relu(x)
                x = layer(x)
            return x
""",
    "wrong_answer",
    "share",
)
wrong(
    M,
    "first-layer-reused",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for index in range(len(self.layers)):
                if index > 0:
                    x = torch.relu(x)
                x = self.layers[0](x)
            return x
""",
    "wrong_answer",
    "layers.1",
)
wrong(
    M,
    "relu-after-last",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))
            return x
""",
    "wrong_answer",
    "relu",
)
wrong(
    M,
    "no-relu",
    """
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])

        def forward(self, x):
            return self.layers(x)
""",
    "wrong_answer",
    "relu",
)
wrong(
    M,
    "sigmoid-between",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(torch.sigmoid(x) if i else x)
            return x
""",
    "wrong_answer",
    "sigmoid",
)
wrong(
    M,
    "one-layer-short",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
            self.out = None

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(torch.relu(x) if i else x)
            return x
""",
    "wrong_answer",
    "Linear",
)
wrong(
    M,
    "no-bias",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(depth))

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(torch.relu(x) if i else x)
            return x
""",
    "wrong_answer",
    "bias",
)
wrong(
    M,
    "forgot-return",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(torch.relu(x) if i else x)
""",
    "wrong_answer",
    "NoneType",
)
wrong(
    M,
    "doubling-width",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, 2 * width) for _ in range(depth))

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(torch.relu(x) if i else x)
            return x
""",
    "runtime_error",
    "layers.1",
    "receives",
)
wrong(
    M,
    "relu-on-the-input",
    """
    import torch
    from torch import nn


    class MLPStack(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for layer in self.layers:
                x = layer(torch.relu(x))
            return x
""",
    "wrong_answer",
    "relu",
)

# === fix-netsequential ==================================================================================

N = "fix-netsequential"

NET_STARTER = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class NetSequential(nn.Module):
        def __init__(self, in_c, n_classes):
            super().__init__()
            self.conv_block1 = nn.Sequential(
                nn.Conv2d(in_c, 32, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(32),
                nn.ReLU()
            )

            self.conv_block2 = nn.Sequential(
                nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1),
                nn.BatchNorm2d(64),
                nn.ReLU()
            )

            self.decoder = nn.Sequential(
                nn.Linear(32 * 28 * 28, 1024),
                nn.Sigmoid(),
                nn.Linear(1024, n_classes)
            )

        def forward(self, x):
            x = self.conv_block1(x)
            x = self.conv_block2(x)
            x = x.view(-1, 32 * 28 * 28)
            x = self.decode(x)
            return x
"""


def net(*changes: tuple[str, str]) -> str:
    code = NET_STARTER
    for old, new in changes:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


FIX_SIZE = ("nn.Linear(32 * 28 * 28, 1024)", "nn.Linear(64 * 28 * 28, 1024)")
FIX_NAME = ("self.decode(x)", "self.decoder(x)")

right(N, "flatten-1", net(FIX_SIZE, FIX_NAME, ("x.view(-1, 32 * 28 * 28)", "x.flatten(1)")))
right(N, "view-size-0", net(FIX_SIZE, FIX_NAME, ("x.view(-1, 32 * 28 * 28)", "x.view(x.size(0), -1)")))
right(N, "torch-flatten", net(FIX_SIZE, FIX_NAME, ("x.view(-1, 32 * 28 * 28)", "torch.flatten(x, 1)")))
right(N, "reshape-shape-0", net(FIX_SIZE, FIX_NAME, ("x.view(-1, 32 * 28 * 28)", "x.reshape(x.shape[0], -1)")))
right(N, "view-minus-one-right-size", net(FIX_SIZE, FIX_NAME, ("x.view(-1, 32 * 28 * 28)", "x.view(-1, 64 * 28 * 28)")))
right(
    N,
    "literal-features",
    net(
        ("nn.Linear(32 * 28 * 28, 1024)", "nn.Linear(50176, 1024)"),
        FIX_NAME,
        ("x.view(-1, 32 * 28 * 28)", "x.view(len(x), 50176)"),
    ),
)
right(
    N,
    "flatten-module-in-decoder",
    net(
        ("nn.Linear(32 * 28 * 28, 1024),", "nn.Flatten(),\n                nn.Linear(64 * 28 * 28, 1024),"),
        FIX_NAME,
        ("            x = x.view(-1, 32 * 28 * 28)\n", ""),
    ),
)
right(
    N, "view-shape-0-literal", net(FIX_SIZE, FIX_NAME, ("x.view(-1, 32 * 28 * 28)", "x.view(x.shape[0], 64 * 28 * 28)"))
)
right(
    N,
    "renamed-to-decode",
    net(
        FIX_SIZE,
        ("self.decoder = nn.Sequential(", "self.decode = nn.Sequential("),
        ("x.view(-1, 32 * 28 * 28)", "x.flatten(start_dim=1)"),
    ),
)

wrong(N, "starter-unchanged", NET_STARTER, "runtime_error", "decode")
wrong(N, "only-the-name", net(FIX_NAME), "wrong_answer", "decoder.0.weight")
wrong(N, "name-and-size-but-view", net(FIX_NAME, FIX_SIZE), "runtime_error", "decoder.0", "receives")
wrong(
    N,
    "block-2-without-batchnorm",
    net(
        FIX_NAME, FIX_SIZE, ("                nn.BatchNorm2d(64),\n", ""), ("x.view(-1, 32 * 28 * 28)", "x.flatten(1)")
    ),
    "wrong_answer",
    "BatchNorm2d",
)
wrong(
    N,
    "smaller-decoder",
    net(
        FIX_NAME,
        ("nn.Linear(32 * 28 * 28, 1024)", "nn.Linear(64 * 28 * 28, 128)"),
        ("nn.Linear(1024, n_classes)", "nn.Linear(128, n_classes)"),
        ("x.view(-1, 32 * 28 * 28)", "x.flatten(1)"),
    ),
    "wrong_answer",
    "decoder.0.weight",
)
wrong(
    N,
    "sigmoid-dropped",
    net(FIX_NAME, FIX_SIZE, ("                nn.Sigmoid(),\n", ""), ("x.view(-1, 32 * 28 * 28)", "x.flatten(1)")),
    "wrong_answer",
    "Sigmoid",
)
wrong(
    N,
    "relu-for-sigmoid",
    net(FIX_NAME, FIX_SIZE, ("nn.Sigmoid(),", "nn.ReLU(),"), ("x.view(-1, 32 * 28 * 28)", "x.flatten(1)")),
    "wrong_answer",
    "Sigmoid",
)
wrong(
    N,
    "flatten-0",
    net(FIX_NAME, FIX_SIZE, ("x.view(-1, 32 * 28 * 28)", "x.flatten(0)")),
    "runtime_error",
    "decoder.0",
    "receives",
)
wrong(
    N,
    "batchnorm-32-in-block-2",
    net(FIX_NAME, FIX_SIZE, ("nn.BatchNorm2d(64)", "nn.BatchNorm2d(32)"), ("x.view(-1, 32 * 28 * 28)", "x.flatten(1)")),
    "runtime_error",
    "BatchNorm2d(32)",
    "receives 64 channels",
)

# === fix-layer-registry =================================================================================

L = "fix-layer-registry"

LAYER_STARTER = """
    import torch
    from torch import nn
    from torch.nn import functional as F


    class DeepMLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = []
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))

        def forward(self, x):
            for layer in self.layers[:-1]:
                x = F.relu(layer(x))
            return self.layers[-1](x)
"""


def layers(*changes: tuple[str, str]) -> str:
    code = LAYER_STARTER
    for old, new in changes:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


right(L, "module-list", layers(("self.layers = []", "self.layers = nn.ModuleList()")))
right(
    L,
    "module-list-comprehension",
    layers(
        (
            """            self.layers = []
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))""",
            "            self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])",
        )
    ),
)
right(
    L,
    "list-then-module-list",
    layers(
        (
            """            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))""",
            """            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))
            self.layers = nn.ModuleList(self.layers)""",
        )
    ),
)
right(
    L,
    "plain-list-also-registered",
    layers(
        (
            "                self.layers.append(nn.Linear(n_in, n_out))",
            "                self.layers.append(nn.Linear(n_in, n_out))\n"
            '                self.add_module(f"fc{len(self.layers)}", self.layers[-1])',
        )
    ),
)
right(
    L,
    "setattr-and-list",
    layers(
        (
            "                self.layers.append(nn.Linear(n_in, n_out))",
            "                layer = nn.Linear(n_in, n_out)\n"
            '                setattr(self, f"linear_{len(self.layers)}", layer)\n'
            "                self.layers.append(layer)",
        )
    ),
)
right(
    L,
    "sequential-with-relus",
    """
    from torch import nn


    class DeepMLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            modules = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                if i:
                    modules.append(nn.ReLU())
                modules.append(nn.Linear(n_in, n_out))
            self.layers = nn.Sequential(*modules)

        def forward(self, x):
            return self.layers(x)
""",
)
right(
    L,
    "module-dict",
    """
    import torch
    from torch import nn


    class DeepMLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleDict({
                f"fc{i}": nn.Linear(a, b) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
            })

        def forward(self, x):
            layers = list(self.layers.values())
            for layer in layers[:-1]:
                x = torch.relu(layer(x))
            return layers[-1](x)
""",
)
right(
    L,
    "module-list-extend",
    layers(
        (
            """            self.layers = []
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))""",
            """            self.layers = nn.ModuleList()
            self.layers.extend(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))""",
        )
    ),
)

right(
    L,
    "module-list-enumerate",
    """
    from torch import nn
    import torch.nn.functional as F


    class DeepMLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes, sizes[1:]))

        def forward(self, x):
            last = len(self.layers) - 1
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i < last:
                    x = F.relu(x)
            return x
""",
)
right(
    L,
    "module-list-map",
    layers(
        (
            """            self.layers = []
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))""",
            "            self.layers = nn.ModuleList(map(nn.Linear, sizes[:-1], sizes[1:]))",
        )
    ),
)

wrong(L, "unchanged", LAYER_STARTER, "runtime_error", "plain list")
wrong(
    L,
    "tuple",
    layers(
        (
            """            self.layers = []
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.append(nn.Linear(n_in, n_out))""",
            "            self.layers = tuple(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))",
        )
    ),
    "runtime_error",
    "plain tuple",
)
wrong(
    L,
    "plain-dict",
    """
    import torch
    from torch import nn


    class DeepMLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = {i: nn.Linear(a, b) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))}

        def forward(self, x):
            for i in range(len(self.layers) - 1):
                x = torch.relu(self.layers[i](x))
            return self.layers[len(self.layers) - 1](x)
""",
    "runtime_error",
    "plain dict",
)
wrong(
    L,
    "sequential-without-relu",
    """
    from torch import nn


    class DeepMLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])))

        def forward(self, x):
            return self.layers(x)
""",
    "wrong_answer",
    "relu",
)
wrong(
    L,
    "relu-after-every-layer",
    layers(
        ("self.layers = []", "self.layers = nn.ModuleList()"),
        (
            """            for layer in self.layers[:-1]:
                x = F.relu(layer(x))
            return self.layers[-1](x)""",
            """            for layer in self.layers:
                x = F.relu(layer(x))
            return x""",
        ),
    ),
    "wrong_answer",
    "relu",
)
wrong(
    L,
    "last-layer-skipped",
    layers(
        ("self.layers = []", "self.layers = nn.ModuleList()"),
        ("            return self.layers[-1](x)", "            return x"),
    ),
    "wrong_answer",
    "layers.2",
    "never",
)
wrong(
    L,
    "sizes-zipped-backwards",
    layers(
        ("self.layers = []", "self.layers = nn.ModuleList()"),
        ("zip(sizes[:-1], sizes[1:])", "zip(sizes[1:], sizes[:-1])"),
    ),
    "runtime_error",
    "layers.0",
)


# === same-shaped layers told apart by role, and constant buffers =========================================
#
# The corpus pack (tests/grading_corpus_pack.yaml) has references with separate same-shaped layers; the
# built-in packs' attentions are fused. Right answers order, name and store those layers in every way people
# do; wrong ones share a layer, use one projection for two roles, or compute a constant wrongly.

A = "separate-projections"

ATTENTION = """
    import math

    import torch
    from torch import nn


    class SelfAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.n_heads, self.head_dim = n_heads, d_model // n_heads
            self.q_proj = nn.Linear(d_model, d_model)
            self.k_proj = nn.Linear(d_model, d_model)
            self.v_proj = nn.Linear(d_model, d_model)
            self.out_proj = nn.Linear(d_model, d_model)

        def split(self, z):
            b, t, _ = z.shape
            return z.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)

        def forward(self, x):
            b, t, c = x.shape
            q = self.split(self.q_proj(x))
            k = self.split(self.k_proj(x))
            v = self.split(self.v_proj(x))
            weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)
            return self.out_proj((weights @ v).transpose(1, 2).reshape(b, t, c))
"""


def attention(*edits: tuple[str, str]) -> str:
    code = ATTENTION
    for old, new in edits:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


right(
    A,
    "keys-before-queries",
    attention(
        (
            """            q = self.split(self.q_proj(x))
            k = self.split(self.k_proj(x))""",
            """            k = self.split(self.k_proj(x))
            q = self.split(self.q_proj(x))""",
        )
    ),
)
right(
    A,
    "values-first-output-registered-first",
    attention(
        (
            """            self.q_proj = nn.Linear(d_model, d_model)
            self.k_proj = nn.Linear(d_model, d_model)
            self.v_proj = nn.Linear(d_model, d_model)
            self.out_proj = nn.Linear(d_model, d_model)""",
            """            self.out_proj = nn.Linear(d_model, d_model)
            self.v_proj = nn.Linear(d_model, d_model)
            self.k_proj = nn.Linear(d_model, d_model)
            self.q_proj = nn.Linear(d_model, d_model)""",
        ),
        (
            """            q = self.split(self.q_proj(x))
            k = self.split(self.k_proj(x))
            v = self.split(self.v_proj(x))""",
            """            v = self.split(self.v_proj(x))
            k = self.split(self.k_proj(x))
            q = self.split(self.q_proj(x))""",
        ),
    ),
)
right(
    A,
    "module-dict-einsum-scaled-queries",
    """
    import torch
    from torch import nn


    class SelfAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.h = n_heads
            self.proj = nn.ModuleDict({name: nn.Linear(d_model, d_model) for name in ("o", "v", "k", "q")})

        def forward(self, x):
            b, t, c = x.shape
            heads = lambda z: z.reshape(b, t, self.h, -1).permute(0, 2, 1, 3)
            k, v, q = (heads(self.proj[name](x)) for name in "kvq")
            q = q * q.shape[-1] ** -0.5
            weights = torch.einsum("bhqd,bhkd->bhqk", q, k).softmax(dim=-1)
            out = torch.einsum("bhqk,bhkd->bhqd", weights, v)
            return self.proj["o"](out.permute(0, 2, 1, 3).reshape(b, t, c))
""",
)
right(
    A,
    "module-list-in-a-loop-per-head",
    """
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn


    class SelfAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.n_heads = n_heads
            self.wqkv = nn.ModuleList([nn.Linear(d_model, d_model) for _ in range(3)])
            self.wo = nn.Linear(d_model, d_model)

        def forward(self, x):
            d = x.shape[-1] // self.n_heads
            values, keys, queries = self.wqkv[2](x), self.wqkv[1](x), self.wqkv[0](x)
            heads = []
            for h in range(self.n_heads):
                part = slice(h * d, (h + 1) * d)
                scores = torch.matmul(queries[..., part], keys[..., part].mT) / math.sqrt(d)
                heads.append(torch.matmul(F.softmax(scores, dim=-1), values[..., part]))
            return self.wo(torch.cat(heads, dim=-1))
""",
)
right(
    A,
    "scores-as-transposed-key-query-product",
    attention(
        (
            "torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)",
            "torch.softmax((k @ q.transpose(-2, -1)).transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)",
        )
    ),
)
right(
    A,
    "queries-named-keys",  # which projection is called q is a name: the same function family, renamed
    attention(("torch.softmax(q @ k.transpose(-2, -1)", "torch.softmax(k @ q.transpose(-2, -1)")),
)
right(
    A,
    "dataclass-config-and-helper",
    """
    import math
    from dataclasses import dataclass

    import torch
    from torch import nn


    @dataclass
    class Config:
        d_model: int
        n_heads: int


    def attend(q, k, v):
        scale = 1.0 / math.sqrt(q.size(-1))
        return torch.softmax(torch.matmul(q, k.transpose(2, 3)) * scale, dim=-1) @ v


    class SelfAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.cfg = Config(d_model, n_heads)
            self.value = nn.Linear(d_model, d_model)
            self.query = nn.Linear(d_model, d_model)
            self.key = nn.Linear(d_model, d_model)
            self.dense = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            shape = (b, t, self.cfg.n_heads, c // self.cfg.n_heads)
            v = self.value(x).reshape(shape).transpose(1, 2)
            q = self.query(x).reshape(shape).transpose(1, 2)
            k = self.key(x).reshape(shape).transpose(1, 2)
            return self.dense(attend(q, k, v).transpose(1, 2).contiguous().view(b, t, c))
""",
)
wrong(
    A,
    "one-projection-for-queries-keys-and-values",
    attention(
        ("self.split(self.k_proj(x))", "self.split(self.q_proj(x))"),
        ("self.split(self.v_proj(x))", "self.split(self.q_proj(x))"),
    ),
    "wrong_answer",
    "k_proj",
    "never",
)
wrong(
    A,
    "one-layer-registered-four-times",
    attention(
        (
            """            self.q_proj = nn.Linear(d_model, d_model)
            self.k_proj = nn.Linear(d_model, d_model)
            self.v_proj = nn.Linear(d_model, d_model)
            self.out_proj = nn.Linear(d_model, d_model)""",
            """            self.q_proj = self.k_proj = self.v_proj = self.out_proj = nn.Linear(d_model, d_model)""",
        )
    ),
    "wrong_answer",
    "same module",
)
wrong(
    A,
    "values-projected-by-the-key-projection",
    attention(("v = self.split(self.v_proj(x))", "v = self.split(self.k_proj(x))")),
    "wrong_answer",
    "v_proj",
    "never",
)
wrong(
    A,
    "softmax-over-the-queries",
    attention(("math.sqrt(self.head_dim), dim=-1)", "math.sqrt(self.head_dim), dim=-2)")),
    "wrong_answer",
    "softmax runs over dim -2",
    "out_proj",
)

# --- rotary attention: constant tables and masks in buffers ---------------------------------------------

RA = "rotary-attention"

ROTARY = """
    import math

    import torch
    from torch import nn


    class RotaryAttention(nn.Module):
        def __init__(self, d_model, n_heads, max_len=64):
            super().__init__()
            self.n_heads, self.head_dim = n_heads, d_model // n_heads
            self.q_proj = nn.Linear(d_model, d_model, bias=False)
            self.k_proj = nn.Linear(d_model, d_model, bias=False)
            self.v_proj = nn.Linear(d_model, d_model, bias=False)
            self.out_proj = nn.Linear(d_model, d_model, bias=False)
            inv_freq = 1.0 / (10000 ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim))
            self.register_buffer("inv_freq", inv_freq, persistent=False)
            self.register_buffer("mask", torch.tril(torch.ones(max_len, max_len)))

        def rotate(self, x):
            t, half = x.shape[-2], x.shape[-1] // 2
            angles = torch.outer(torch.arange(t, dtype=self.inv_freq.dtype), self.inv_freq)
            cos, sin = angles.cos(), angles.sin()
            a, b = x[..., :half], x[..., half:]
            return torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)

        def forward(self, x):
            b, t, c = x.shape
            heads = lambda z: z.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
            k, q, v = heads(self.k_proj(x)), heads(self.q_proj(x)), heads(self.v_proj(x))
            q, k = self.rotate(q), self.rotate(k)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            scores = scores.masked_fill(self.mask[:t, :t] == 0, float("-inf"))
            return self.out_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c))
"""


def rotary(*edits: tuple[str, str]) -> str:
    code = ROTARY
    for old, new in edits:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


right(RA, "inv-freq-and-float-mask-buffers-keys-first", rotary())
right(
    RA,
    "cos-sin-cache-buffers",
    rotary(
        (
            """            self.register_buffer("inv_freq", inv_freq, persistent=False)""",
            """            angles = torch.arange(max_len).float()[:, None] * inv_freq[None, :]
            self.register_buffer("cos_cached", angles.cos(), persistent=False)
            self.register_buffer("sin_cached", angles.sin(), persistent=False)""",
        ),
        (
            """            angles = torch.outer(torch.arange(t, dtype=self.inv_freq.dtype), self.inv_freq)
            cos, sin = angles.cos(), angles.sin()""",
            """            cos, sin = self.cos_cached[:t], self.sin_cached[:t]""",
        ),
    ),
)
right(
    RA,
    "rotary-submodule-and-bool-mask-in-forward",
    """
    import math

    import torch
    from torch import nn


    class Rotary(nn.Module):
        def __init__(self, dim, base=10000.0):
            super().__init__()
            self.register_buffer("inv_freq", base ** (-torch.arange(0, dim, 2).float() / dim))

        def forward(self, x):
            t = x.shape[-2]
            freqs = torch.arange(t, device=x.device).float()[:, None] * self.inv_freq
            emb = torch.cat((freqs, freqs), dim=-1)
            rotated = torch.cat((-x[..., x.shape[-1] // 2 :], x[..., : x.shape[-1] // 2]), dim=-1)
            return x * emb.cos() + rotated * emb.sin()


    class RotaryAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.h = n_heads
            self.rope = Rotary(d_model // n_heads)
            self.proj = nn.ModuleDict({k: nn.Linear(d_model, d_model, bias=False) for k in ("out", "value", "key", "query")})

        def forward(self, x):
            b, t, c = x.shape
            split = lambda z: z.view(b, t, self.h, -1).transpose(1, 2)
            v = split(self.proj["value"](x))
            k = self.rope(split(self.proj["key"](x)))
            q = self.rope(split(self.proj["query"](x)))
            allowed = torch.ones(t, t, dtype=torch.bool).tril()
            scores = (q @ k.mT / math.sqrt(q.shape[-1])).masked_fill(~allowed, float("-inf"))
            return self.proj["out"]((scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, t, c))
""",
)
wrong(
    RA,
    "inv-freq-buffer-without-the-two",
    rotary(
        (
            "(torch.arange(0, self.head_dim, 2).float() / self.head_dim)",
            "(torch.arange(0, self.head_dim // 2).float() / self.head_dim)",
        )
    ),
    "wrong_answer",
    "constant that forward combines with its input",
    "out_proj",
)
wrong(
    RA,
    "mask-buffer-upper-triangle",
    rotary(
        (
            'self.register_buffer("mask", torch.tril(torch.ones(max_len, max_len)))',
            'self.register_buffer("mask", torch.triu(torch.ones(max_len, max_len)))',
        )
    ),
    "wrong_answer",
    "bool",
    "constant that forward combines with its input",
)
located(
    RA,
    "values-rotated-instead-of-keys",
    rotary(("q, k = self.rotate(q), self.rotate(k)", "q, v = self.rotate(q), self.rotate(v)")),
    "wrong_answer",
    "output differs",
)

# --- a stack of same-shaped layers over a sinusoidal table ----------------------------------------------

ST = "residual-stack"

STACK = """
    import math

    import torch
    from torch import nn


    class Layer(nn.Module):
        def __init__(self, d_model):
            super().__init__()
            self.norm = nn.LayerNorm(d_model)
            self.fc1 = nn.Linear(d_model, d_model)
            self.fc2 = nn.Linear(d_model, d_model)

        def forward(self, x):
            return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


    class Stack(nn.Module):
        def __init__(self, d_model, depth, max_len=128):
            super().__init__()
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, d_model)
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)
            self.layers = nn.ModuleList([Layer(d_model) for _ in range(depth)])
            self.final_norm = nn.LayerNorm(d_model)

        def forward(self, x):
            x = x + self.pe[: x.size(1)]
            for layer in self.layers:
                x = layer(x)
            return self.final_norm(x)
"""


def stack(*edits: tuple[str, str]) -> str:
    code = STACK
    for old, new in edits:
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


right(ST, "pe-buffer-module-list-of-layers", stack())
right(
    ST,
    "final-norm-registered-first-sequential-layers",
    stack(
        (
            """            self.register_buffer("pe", pe)
            self.layers = nn.ModuleList([Layer(d_model) for _ in range(depth)])
            self.final_norm = nn.LayerNorm(d_model)""",
            """            self.final_norm = nn.LayerNorm(d_model)
            self.register_buffer("pe", pe.unsqueeze(0), persistent=False)
            self.layers = nn.Sequential(*[Layer(d_model) for _ in range(depth)])""",
        ),
        (
            """            x = x + self.pe[: x.size(1)]
            for layer in self.layers:
                x = layer(x)""",
            """            x = self.layers(x + self.pe[:, : x.size(1)])""",
        ),
    ),
)
right(
    ST,
    "pe-table-interleaved-by-stack-layers-in-dict",
    """
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn


    class Stack(nn.Module):
        def __init__(self, d_model, depth):
            super().__init__()
            position = torch.arange(256, dtype=torch.float32)[:, None]
            angles = position / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
            self.register_buffer("table", torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(1))
            self.blocks = nn.ModuleDict()
            for i in reversed(range(depth)):
                self.blocks[f"block{i}"] = nn.ModuleDict(
                    {"up": nn.Linear(d_model, d_model), "down": nn.Linear(d_model, d_model), "ln": nn.LayerNorm(d_model)}
                )
            self.ln_f = nn.LayerNorm(d_model)

        def forward(self, x):
            x = x + self.table[: x.shape[1]]
            for i in range(len(self.blocks)):
                block = self.blocks[f"block{i}"]
                x = x + block["down"](F.relu(block["up"](block["ln"](x))))
            return self.ln_f(x)
""",
)
wrong(
    ST,
    "one-layer-repeated-depth-times",
    stack(("nn.ModuleList([Layer(d_model) for _ in range(depth)])", "nn.ModuleList([Layer(d_model)] * depth)")),
    "wrong_answer",
    "fewer",
    "layers.1",
)
wrong(
    ST,
    "pe-buffer-cosines-on-even-features",
    stack(
        (
            """            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)""",
            """            pe[:, 0::2] = torch.cos(position * div_term)
            pe[:, 1::2] = torch.sin(position * div_term)""",
        )
    ),
    "wrong_answer",
    "(5, 8) constant that forward combines with its input",
    "layers.0.norm",
)
wrong(
    ST,
    "pe-buffer-frequencies-over-the-wrong-base",
    stack(("(-math.log(10000.0) / d_model)", "(-math.log(1000.0) / d_model)")),
    "wrong_answer",
    "(5, 8) constant that forward combines with its input",
    "layers.0.norm",
)
wrong(
    ST,
    "residual-missing-in-the-layers",
    stack(
        (
            "return x + self.fc2(torch.relu(self.fc1(self.norm(x))))",
            "return self.fc2(torch.relu(self.fc1(self.norm(x))))",
        )
    ),
    "wrong_answer",
    "output differs",
)

# --- built-in attentions: fused projections, float mask buffers --------------------------------------------

GB = "gpt-block"

right(
    GB,
    "nanogpt-float-bias-mask-buffer",
    """
    import math

    import torch
    import torch.nn as nn
    from torch.nn import functional as F


    class CausalSelfAttention(nn.Module):
        def __init__(self, n_embd, n_head, block_size=64):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.n_head, self.n_embd = n_head, n_embd
            self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)


    class MLP(nn.Module):
        def __init__(self, n_embd):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))


    class Block(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d_model)
            self.attn = CausalSelfAttention(d_model, n_heads)
            self.ln_2 = nn.LayerNorm(d_model)
            self.mlp = MLP(d_model)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
            return x
""",
)
right(
    GB,
    "norms-registered-after-their-layers-additive-float-mask",
    """
    import torch
    from torch import nn
    from torch.nn import functional as F


    class Block(nn.Module):
        def __init__(self, d_model, n_heads, max_len=32):
            super().__init__()
            self.h = n_heads
            self.qkv, self.out = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
            self.ln_2, self.ln_1 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
            self.register_buffer("causal", torch.full((max_len, max_len), float("-inf")).triu(1))

        def attention(self, x):
            b, t, c = x.shape
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            q, k, v = (z.unflatten(-1, (self.h, -1)).transpose(1, 2) for z in (q, k, v))
            mask = self.causal[:t, :t]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.out(out.transpose(1, 2).flatten(2))

        def forward(self, x):
            x = x + self.attention(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
""",
)
wrong(
    GB,
    "one-layernorm-for-both",
    """
    import torch
    from torch import nn
    from torch.nn import functional as F


    class Block(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.h = n_heads
            self.ln = nn.LayerNorm(d_model)
            self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = (z.view(b, t, self.h, -1).transpose(1, 2) for z in self.qkv(self.ln(x)).split(c, dim=-1))
            x = x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c))
            return x + self.mlp(self.ln(x))
""",
    "wrong_answer",
    "LayerNorm",
)

MH = "multi-head-self-attention"

right(
    MH,
    "chunk-and-einsum",
    """
    import torch
    from torch import nn


    class MultiHeadSelfAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.heads = n_heads
            self.to_qkv = nn.Linear(d_model, 3 * d_model)
            self.to_out = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = self.to_qkv(x).chunk(3, dim=-1)
            q, k, v = (z.reshape(b, t, self.heads, c // self.heads) for z in (q, k, v))
            weights = torch.einsum("bqhd,bkhd->bhqk", q, k).div((c // self.heads) ** 0.5).softmax(-1)
            return self.to_out(torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, t, c))
""",
)
located(
    MH,
    "keys-and-queries-swapped-in-the-split",
    """
    import math

    import torch
    from torch import nn


    class MultiHeadSelfAttention(nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.h, self.hd = n_heads, d_model // n_heads
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)

        def forward(self, x):
            b, t, c = x.shape
            k, q, v = (z.view(b, t, self.h, self.hd).transpose(1, 2) for z in self.qkv(x).split(c, dim=-1))
            att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.hd), dim=-1)
            return self.proj((att @ v).transpose(1, 2).reshape(b, t, c))
""",
    "wrong_answer",
    "proj",
    "first",
)

CS = "causal-self-attention"

right(
    CS,
    "registered-float-tril-buffer",
    """
    import math

    import torch
    from torch import nn


    class CausalSelfAttention(nn.Module):
        def __init__(self, d_model, n_heads, max_len=512):
            super().__init__()
            self.n_heads = n_heads
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.proj = nn.Linear(d_model, d_model)
            self.register_buffer("tril", torch.tril(torch.ones(max_len, max_len)))

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = (z.view(b, t, self.n_heads, -1).transpose(1, 2) for z in self.qkv(x).split(c, dim=-1))
            scores = q @ k.transpose(-2, -1) / math.sqrt(c // self.n_heads)
            scores = scores.masked_fill(self.tril[:t, :t] == 0, float("-inf"))
            return self.proj((torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, c))
""",
)
