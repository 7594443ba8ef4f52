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


CORPUS: list[Answer] = []


def right(question: str, name: str, code: str) -> None:
    CORPUS.append(Answer(question, name, dedent(code)))


def wrong(question: str, name: str, code: str, verdict: str, *words: str) -> None:
    CORPUS.append(Answer(question, name, dedent(code), verdict, words))


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
