"""The probes' fast paths do what torch's own walks do: the module tree as named_modules() lists it, the train/eval
switch, the inputs kept between calls, and the module named when a run raises (read from the traceback)."""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import pytest
from deferred import Deferred

torch = Deferred("torch")
nn = Deferred("torch.nn")
probes = Deferred("quizapp.judge.probes")


def _models() -> SimpleNamespace:
    """The test models, defined when a test first needs them (collecting this file imports no torch)."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, channels: int = 16) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(channels)
            self.act = nn.ReLU()
            self.empty: nn.Module | None = None
            self.register_module("nothing", None)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.bn(self.conv(x)))

    class Net(nn.Module):
        """Nested containers, and one module reachable by two paths (registered twice)."""

        def __init__(self) -> None:
            super().__init__()
            self.stem = Block()
            self.body = nn.Sequential(Block(), nn.Sequential(Block(), nn.Identity()))
            self.again = self.stem
            self.head = nn.ModuleDict({"out": nn.Linear(4, 2), "shared": self.body[1]})

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(self.stem(x))

    class OwnWalk(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(2, 2)

        def named_modules(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            yield "only", self

    class Frozen(nn.Module):
        """Overrides train(): its BatchNorm stays in eval mode whatever it is told."""

        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm1d(3)
            self.lin = nn.Linear(3, 3)

        def train(self, mode: bool = True) -> Frozen:
            super().train(mode)
            self.bn.eval()
            return self

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = Block(16)
            self.proj = nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.repeat(1, 2, 1, 1)  # 32 channels into a block built for 16
            return self.block(x)

    return SimpleNamespace(**{name: value for name, value in locals().items() if isinstance(value, type)})


M = functools.cache(_models)


def _make(name: str) -> Any:
    if name == "Sequential":
        return nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    if name == "FrozenInSequential":
        return nn.Sequential(M().Frozen(), nn.ReLU())
    return getattr(M(), name)()


@pytest.mark.parametrize("make", ["Net", "Block", "Sequential", "OwnWalk"])
def test_the_walk_lists_what_named_modules_lists(make: str) -> None:
    root = _make(make)
    assert [(path, id(m)) for path, m in probes._walk(root)] == [(path, id(m)) for path, m in root.named_modules()]


@pytest.mark.parametrize("make", ["Net", "FrozenInSequential"])
@pytest.mark.parametrize("mode", [True, False])
def test_set_training_matches_torch_train(make: str, mode: bool) -> None:
    mine, theirs = _make(make), _make(make)
    for model in (mine, theirs):
        model.train(not mode)
    probes.set_training(mine, mode)
    theirs.train(mode)
    assert [m.training for m in mine.modules()] == [m.training for m in theirs.modules()]
    assert any(m.training == mode for m in mine.modules())


def test_set_training_leaves_what_is_not_a_module() -> None:
    probes.set_training(len, True)  # a function entry point: nothing to switch


def test_a_kept_input_is_the_same_values_and_a_fresh_tensor() -> None:
    spec = {"shape": [2, 3]}
    first = probes.make_input(spec, 7)
    first.mul_(0)  # an answer that changes its input in place
    second, third = probes.make_input(spec, 7), probes.make_input(spec, 7)
    assert second.abs().sum() > 0
    assert torch.equal(second, third) and second.data_ptr() != third.data_ptr()
    assert not torch.equal(probes.make_input(spec, 8), second)
    bounded = probes.make_input({"shape": [2, 3], "low": 0, "high": 1}, 7)
    assert torch.equal(bounded, probes.make_input({"low": 0, "high": 1, "shape": [2, 3]}, 7))
    assert not torch.equal(bounded, probes.make_input({"shape": [2, 3], "low": 0, "high": 2}, 7))
    assert probes.make_input({"shape": [4], "dtype": "int64", "low": 0, "high": 3}, 1).dtype == torch.int64
    assert probes.make_input({"values": [1.0, 2.0]}, 0).tolist() == [1.0, 2.0]


def test_kept_and_fresh_inputs_are_equal() -> None:
    for spec in ({"shape": [3, 4]}, {"shape": [5], "dtype": "bool"}, {"shape": [2, 2], "low": -2, "high": 2}):
        probes.make_input(spec, 3)  # made and kept
        assert torch.equal(probes.make_input(spec, 3), probes._make_input(spec, 3))  # the kept one's copy
    assert not torch.equal(
        probes.make_input({"shape": [4], "low": 0, "high": 1}, 5),
        probes.make_input({"shape": [4], "low": 0.0, "high": 2}, 5),
    )
    with pytest.raises(TypeError):  # not a shape: refused as before, never a kept input of another shape
        probes.make_input({"shape": [3.0, 4]}, 3)


def test_an_instance_s_own_train_is_honoured() -> None:
    """The BatchNorm-freezing trick: an instance attribute `train` that torch's walk calls and the shortcut must
    not bypass."""
    model = nn.Sequential(nn.BatchNorm1d(3), nn.Linear(3, 3))
    norm = model[0]
    norm.eval()
    norm.train = lambda mode=True: norm
    probes.set_training(model, True)
    assert model.training and model[1].training and not norm.training


def _guarded(module: Any, *args: object) -> dict[str, Any]:
    output, error = probes._run_guarded(lambda: module(*args), module)
    assert output is None and error is not None
    return error


def test_the_module_that_raised_is_named_with_the_shape_it_was_given() -> None:
    error = _guarded(M().Outer(), torch.randn(2, 16, 4, 4))
    assert error["module"]["path"] == "block.conv"
    assert error["module"]["repr"].startswith("Conv2d(16, 16")
    assert error["module"]["input_shape"] == [2, 32, 4, 4]


def test_an_error_in_the_answers_own_forward_names_no_module() -> None:
    class Own(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise ValueError("mine")

    assert "module" not in _guarded(Own(), torch.randn(1, 4))


def test_decorated_and_star_args_forwards_are_found() -> None:
    class Star(nn.Module):
        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            raise RuntimeError(f"bad {inputs[0].shape}")

    class Decorated(nn.Module):
        @torch.no_grad()
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("decorated")

    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.star = Star()
            self.deco = Decorated()

        def forward(self, x: torch.Tensor, which: str) -> torch.Tensor:
            return self.star(x, x) if which == "star" else self.deco(x)

    holder = Holder()
    star = _guarded(holder, torch.randn(3, 5), "star")
    assert star["module"]["path"] == "star" and star["module"]["input_shape"] == [3, 5]
    deco = _guarded(holder, torch.randn(2, 2), "deco")
    assert deco["module"]["path"] == "deco" and deco["module"]["input_shape"] == [2, 2]


def test_a_module_outside_the_tree_is_not_named() -> None:
    stranger = nn.BatchNorm1d(4)

    class Calls(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return stranger(self.lin(x))  # 3 features into a norm of 4, kept outside the tree

    assert "module" not in _guarded(Calls(), torch.randn(2, 3))


def test_a_chain_warming_up_stops_within_a_traced_run_when_its_job_arrives() -> None:
    """The warm-up asks whether a job is waiting before every op of a traced run, not only between runs (a job
    that arrives during role discovery's forward waits for one op), stops at the first yes, and leaves nothing
    of itself behind."""
    import sys

    asked = []
    probes.warm_up(stop=lambda: asked.append(1) is None and False, passes=1, chain=True)
    assert len(asked) > 10  # at every op of the traced runs: between runs alone it was asked 5 times

    answers = []

    def job_waiting() -> bool:
        answers.append(len(answers) >= len(asked) // 2)
        return answers[-1]

    probes.warm_up(stop=job_waiting, passes=1, chain=True)
    assert answers[-1] and answers.count(True) == 1  # it stopped at the first yes
    assert probes._warm_up_stop is None
    assert "answer" not in sys.modules


def test_an_answer_raising_the_warm_up_s_own_exception_gets_it_as_a_fact() -> None:
    class Raises(nn.Module):
        def forward(self, x: Any) -> Any:
            raise probes.WarmUpStopped("mine")

    error = _guarded(Raises(), torch.randn(1))
    assert error["type"] == "WarmUpStopped"


def test_a_submodule_given_the_wrong_arguments_is_named() -> None:
    """The call fails before the submodule's forward runs (its arguments do not bind): it is still named, with
    the shape it was given."""

    class Wrong(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            x = x * 2
            return self.lin(x, x)

    error = _guarded(Wrong(), torch.randn(3, 4))
    assert error["type"] == "TypeError"
    assert error["module"]["path"] == "lin" and error["module"]["input_shape"] == [3, 4]


def test_a_failed_run_keeps_nothing_alive() -> None:
    """Reading the traceback for the module that raised must not tie the exception to a frame that holds it:
    the run's tensors go when the run does, without waiting for the cycle collector."""
    import gc
    import weakref

    made = []

    class Fails(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            big = torch.ones(1000)
            made.append(weakref.ref(big))
            return self.lin(big)

    gc.disable()
    try:
        error = _guarded(Fails(), torch.randn(2, 4))
        assert error["module"]["path"] == "lin"
        assert made and made[0]() is None
    finally:
        gc.enable()
