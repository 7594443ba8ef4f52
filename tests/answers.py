"""Answers to the built-in pack's code questions, right ones in many styles and wrong ones, for the tests."""

from __future__ import annotations

RESNET_HEADER = """\
import torch
from torch import nn
from torch.nn import functional as F
"""

# --- correct ResidualBlocks, whatever their names, order and style ------------------------------------------

RESNET_RIGHT = {
    "identity-and-functional-relu": RESNET_HEADER
    + """
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv_a = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm_a = nn.BatchNorm2d(out_channels)
        self.conv_b = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm_b = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.skip = nn.Identity()

    def forward(self, x):
        y = F.relu(self.norm_a(self.conv_a(x)))
        y = self.norm_b(self.conv_b(y))
        return F.relu(y + self.skip(x))
""",
    "shortcut-registered-first-torch-add": RESNET_HEADER
    + """
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.project = None
        if stride != 1 or in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.second_bn = nn.BatchNorm2d(out_channels)
        self.second = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.first_bn = nn.BatchNorm2d(out_channels)
        self.first = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)

    def forward(self, x):
        shortcut = x if self.project is None else self.project(x)
        out = torch.relu(self.first_bn(self.first(x)))
        out = self.second_bn(self.second(out))
        return torch.relu(torch.add(out, shortcut))
""",
    "sequential-body-and-add-inplace": RESNET_HEADER
    + """
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
        self.shortcut = nn.Sequential()
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
    "module-dict-and-plus-equals": RESNET_HEADER
    + """
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
}

# --- wrong ResidualBlocks: (code, expected verdict, check that must not pass, words its message must hold) ------


def _block(forward: str, init_extra: str = "", conv1_stride: str = "stride", bn1: str = "out_channels") -> str:
    return (
        RESNET_HEADER
        + f"""
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride={conv1_stride}, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d({bn1})
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )
{init_extra}
    def forward(self, x):
{forward}
"""
    )


RESNET_WRONG = {
    "missing-skip": (
        _block("        out = F.relu(self.bn1(self.conv1(x)))\n        return F.relu(self.bn2(self.conv2(out)))"),
        "wrong_answer",
        "skip-connection",
        "no skip connection: the input never reaches an addition",
    ),
    "missing-projection": (
        RESNET_HEADER
        + """
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)
""",
        "runtime_error",
        "projection-layers",
        "the projection shortcut is missing for stride 2",
    ),
    "stride-on-the-wrong-conv": (
        _block(
            "        out = F.relu(self.bn1(self.conv1(x)))\n"
            "        out = self.bn2(F.conv2d(out, self.conv2.weight, stride=self.stride, padding=1))\n"
            "        return F.relu(out + self.shortcut(x))",
            init_extra="        self.stride = stride\n",
            conv1_stride="1",
        ),
        "wrong_answer",
        "outputs",
        "output differs in train mode for in=16, out=32, stride=2",
    ),
    "relu-before-the-add": (
        _block(
            "        out = F.relu(self.bn1(self.conv1(x)))\n"
            "        out = F.relu(self.bn2(self.conv2(out)))\n"
            "        return out + self.shortcut(x)"
        ),
        "wrong_answer",
        "skip-connection",
        "the block must end with the ReLU after the addition",
    ),
    "detached-shortcut": (
        _block(
            "        out = F.relu(self.bn1(self.conv1(x)))\n"
            "        out = self.bn2(self.conv2(out))\n"
            "        return F.relu(out + self.shortcut(x).detach())"
        ),
        "wrong_answer",
        "gradients",
        "gradients differ from the reference",
    ),
    "batchnorm-on-the-wrong-channels": (
        _block(
            "        out = F.relu(self.bn1(self.conv1(x)))\n"
            "        out = self.bn2(self.conv2(out))\n"
            "        return F.relu(out + self.shortcut(x))",
            bn1="in_channels",
        ),
        "runtime_error",
        "outputs",
        "BatchNorm2d(16) in `bn1` receives 32 channels",
    ),
    "layers-in-a-plain-list": (
        RESNET_HEADER
        + """
class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.steps = [
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
        ]
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x):
        out = x
        for step in self.steps:
            out = step(out)
        return F.relu(out + self.shortcut(x))
""",
        "wrong_answer",
        "identity-layers",
        "`steps` keeps modules (Conv2d, BatchNorm2d, ReLU, Conv2d, ...) in a plain list",
    ),
    "sequential-only": (
        RESNET_HEADER
        + """
def ResidualBlock(in_channels, out_channels, stride=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
    )
""",
        "wrong_answer",
        "skip-connection",
        "no skip connection",
    ),
}
