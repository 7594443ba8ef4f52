"""The grader's words, without the judge: layer descriptions, causes, parameter names, classic errors, aliases."""

from __future__ import annotations

import ast

import pytest

from quizapp.grading.checks import classic_error, dotted_names
from quizapp.grading.diagnosis import config_difference, layer_head, locate, parameter_difference


def test_layer_descriptions_never_garble_arguments() -> None:
    conv = "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)"
    assert layer_head(conv) == "Conv2d(16, 32)"
    assert layer_head("Linear(in_features=8, out_features=3, bias=True)") == "Linear(8, 3)"
    assert layer_head("BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)") == (
        "BatchNorm2d(32)"
    )


def test_a_configuration_difference_names_the_setting() -> None:
    mine = "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), bias=False)"
    reference = "Conv2d(16, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"
    assert config_difference(mine, reference) == (
        "stride=(1, 1) where the reference has stride=(2, 2); the default padding where the reference has "
        "padding=(1, 1)"
    )
    assert config_difference("ReLU(inplace=True)", "ReLU()") is None  # no effect on the output


def test_locate_finds_the_first_module_that_leaves_the_reference() -> None:
    def module(path, kind, repr_, tensor):
        return {"path": path, "type": kind, "repr": repr_, "tensor": tensor, "line": 12}

    reference = {
        "modules": [module("a", "Conv2d", "Conv2d(3, 3, stride=(2, 2))", "r0"), module("b", "ReLU", "ReLU()", "r1")]
    }
    learner = {
        "modules": [module("c1", "Conv2d", "Conv2d(3, 3, stride=(1, 1))", "l0"), module("r", "ReLU", "ReLU()", "l1")]
    }
    same = {("l1", "r1")}  # only the ReLU's output agrees (a stand-in for comparing sampled values)
    found = locate(learner, reference, lambda m, r: (m["tensor"], r["tensor"]) in same)
    assert found == ("`c1` has stride=(1, 1) where the reference has stride=(2, 2) (answer.py line 12)", 1)
    counts = locate({"ops": {"relu": 3}, "modules": []}, {"ops": {"relu": 2}, "modules": []}, lambda m, r: True)
    assert counts == ("forward runs relu 3 times where the reference runs it twice", 1)
    in_a_function = locate({"ops": {"exp": 1}}, {"ops": {"exp": 1, "amax": 1}}, lambda m, r: True, "`softmax`")
    assert in_a_function == ("`softmax` runs amax 0 times where the reference runs it once", 1)
    views = {"ops": {"mul": 1}}, {"ops": {"view_as": 1, "float": 1, "mul": 1}}
    assert locate(*views, lambda m, r: True) is None  # a view or a cast says nothing about the maths
    idle = locate({"idle": ["layers.1", "layers.2"]}, {"idle": []}, lambda m, r: True)
    assert idle is not None and idle[0].startswith("`layers.1`, `layers.2` never run in forward")


def test_parameter_differences_are_named() -> None:
    def p(path, *shape):
        count = 1
        for size in shape:
            count *= size
        return {"path": path, "shape": list(shape), "count": count}

    reference = [p("conv1.weight", 16, 16, 3, 3), p("bn1.weight", 16), p("bn1.bias", 16)]
    learner = [p("c.weight", 16, 16, 3, 3), p("c.bias", 16), p("n.weight", 16), p("n.bias", 16)]
    tree = [{"path": "c", "type": "Conv2d(16, 16)"}, {"path": "n", "type": "BatchNorm2d(16)"}]
    ref_tree = [{"path": "conv1", "type": "Conv2d(16, 16)"}, {"path": "bn1", "type": "BatchNorm2d(16)"}]
    assert parameter_difference(learner, reference, tree, ref_tree) == (
        "16 extra parameters: `c.bias` (a conv before BatchNorm takes bias=False)"
    )
    assert parameter_difference([p("w", 8, 4)], [p("weight", 4, 8)], [], []) is not None


def test_classic_errors_get_the_reviewers_sentence() -> None:
    assert "super().__init__()" in classic_error("AttributeError", "cannot assign module before Module.__init__() call")
    assert "super().__init__()" in classic_error("AttributeError", "'Net' object has no attribute '_modules'")
    recursion = classic_error("RecursionError", "maximum recursion depth exceeded", "for m in self.modules():\n")
    assert "self.modules() yields the module itself first" in recursion
    typo = classic_error("AttributeError", "'Net' object has no attribute 'decode'", "self.decoder = nn.Linear(2, 2)")
    assert typo == "`self.decode` does not exist: did you mean `self.decoder`?"
    assert classic_error("RuntimeError", "mat1 and mat2 shapes cannot be multiplied") is None


def test_source_rules_see_through_aliases() -> None:
    names = dotted_names(ast.parse("import torch.nn.functional as G\nG.layer_norm(x, (4,))\n"))
    assert "F.layer_norm" in names and "torch.nn.functional.layer_norm" in names
    names = dotted_names(ast.parse("import torch.nn as tnn\nclass M(tnn.Module):\n    s = tnn.Sequential()\n"))
    assert {"nn.Sequential", "torch.nn.Sequential"} <= names
    names = dotted_names(ast.parse("from torch.nn import Sequential as S\nS()\n"))
    assert {"nn.Sequential", "Sequential", "torch.nn.Sequential"} <= names
    assert "nn.Sequential" not in dotted_names(ast.parse("import torch\nx = torch.zeros(1)\n"))


@pytest.mark.parametrize(
    "source",
    [
        'import torch\ngetattr(torch.nn, "Linear")(2, 2)\n',
        'import torch\ngetattr(getattr(torch, "nn"), "Linear")(2, 2)\n',
        'import importlib\nimportlib.import_module("torch.nn").Linear(2, 2)\n',
        '__import__("torch.nn").nn.Linear(2, 2)\n',  # __import__ returns the top package: torch.nn.nn.Linear...
        'import sys\nsys.modules["torch.nn"].Linear(2, 2)\n',
        "import torch\nlayers = torch.nn\nlayers.Linear(2, 2)\n",
        "import torch\nt = torch\nlayers = t.nn\nmake = layers.Linear\n",
    ],
)
def test_source_rules_read_lookups_spelled_with_constants(source: str) -> None:
    names = dotted_names(ast.parse(source))
    assert "torch.nn" in names or "nn.Linear" in names, sorted(names)
    if "__import__" not in source:
        assert {"nn.Linear", "torch.nn.Linear"} <= names, sorted(names)
