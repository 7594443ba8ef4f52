"""Code answers graded for real: the built-in pack's questions, through the jailed warm pool.

Right answers in many styles must pass; each wrong answer must get its verdict and a message a reviewer
would write, on the check that catches it.
"""

from __future__ import annotations

import pytest
from answers import RESNET_RIGHT, RESNET_WRONG

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

PACK = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("reference-cache")))


def grade(grader: Grader, question_id: str, source: str, mode: str = "submit"):
    return grader.grade(PACK, PACK.question(question_id), source, mode=mode)


@pytest.mark.parametrize("style", sorted(RESNET_RIGHT))
def test_resnet_right_answers_pass_whatever_their_style(grader: Grader, style: str) -> None:
    result = grade(grader, "resnet-residual-block", RESNET_RIGHT[style])
    assert result.verdict == "accepted", [t.to_json() for t in result.tests if t.status != "pass"] or result.message
    assert [t.status for t in result.tests] == ["pass"] * 5
    assert result.score == 1.0


@pytest.mark.parametrize("mistake", sorted(RESNET_WRONG))
def test_resnet_wrong_answers_get_a_reviewers_message(grader: Grader, mistake: str) -> None:
    code, verdict, check, words = RESNET_WRONG[mistake]
    result = grade(grader, "resnet-residual-block", code)
    assert result.verdict == verdict, result.to_json()
    caught = {t.check: t for t in result.tests}
    assert caught[check].status != "pass", result.to_json()
    assert words in caught[check].message, caught[check].message
    assert "Traceback" not in caught[check].message


def test_run_mode_runs_only_the_visible_checks_and_hides_nothing_it_runs(grader: Grader) -> None:
    code, *_ = RESNET_WRONG["detached-shortcut"]
    run = grade(grader, "resnet-residual-block", code, mode="run")
    assert run.verdict == "accepted"  # only the hidden gradient check catches it
    assert "gradients" not in {t.check for t in run.tests}
    submit = grade(grader, "resnet-residual-block", code, mode="submit")
    hidden = next(t for t in submit.tests if t.check == "gradients")
    assert hidden.visible is False
    # The author's words, then what failed, without the hidden cases
    assert hidden.message.startswith(PACK.question("resnet-residual-block").checks[-1].message + " (")
    assert "`shortcut.0.weight`, `shortcut.1.weight`, `shortcut.1.bias` get no gradient" in hidden.message
    assert "forward calls detach()" in hidden.message
    assert "in=8" not in hidden.message


def test_output_difference_names_mode_case_error_and_index(grader: Grader) -> None:
    code, *_ = RESNET_WRONG["stride-on-the-wrong-conv"]
    message = next(t for t in grade(grader, "resnet-residual-block", code).tests if t.check == "outputs").message
    # located: the first layer whose output leaves the reference's, and why; conv2, used through F.conv2d,
    # is not mistaken for an unused layer
    assert message.startswith("`conv1` has stride=(1, 1) where the reference has stride=(2, 2) (answer.py line 20)")
    assert "; output differs in train mode for in=16, out=32, stride=2: max abs error " in message
    assert " at [" in message and "values differ" in message
    assert "never runs" not in message


def test_syntax_error_has_line_and_column_and_never_reaches_the_judge(grader: Grader) -> None:
    result = grade(grader, "resnet-residual-block", "import torch\n\nclass ResidualBlock(nn.Module)\n    pass\n")
    assert result.verdict == "syntax_error"
    assert (result.line, result.column) == (3, 31)
    assert result.jail_mode == ""


def test_exception_at_import_is_a_runtime_error_with_the_learners_line(grader: Grader) -> None:
    result = grade(grader, "resnet-residual-block", "import torch\n\nx = 1\nraise ValueError('boom')\n")
    assert result.verdict == "runtime_error"
    assert result.line == 4
    assert "ValueError: boom" in result.message
    assert result.traceback.splitlines()[1:] == [
        '  File "answer.py", line 4, in <module>',
        "    raise ValueError('boom')",
        "ValueError: boom",
    ]


def test_runtime_error_in_forward_carries_the_learners_traceback(grader: Grader) -> None:
    code, *_ = RESNET_WRONG["batchnorm-on-the-wrong-channels"]
    test = next(t for t in grade(grader, "resnet-residual-block", code).tests if t.check == "outputs")
    assert test.status == "error"
    frames = [line for line in test.output.splitlines() if line.startswith("  File ")]
    assert frames, test.output
    assert all(line.startswith('  File "answer.py", line ') for line in frames)  # no library frames
    assert frames[-1] == f'  File "answer.py", line {test.line}, in forward'
    assert test.output.splitlines()[-1].startswith("RuntimeError: running_mean should contain 32 elements")


def test_missing_entry_point_says_what_was_defined(grader: Grader) -> None:
    result = grade(grader, "resnet-residual-block", "from torch import nn\n\nclass ResBlock(nn.Module):\n    pass\n")
    assert result.verdict == "wrong_answer"
    assert "does not define ResidualBlock" in result.message
    assert "ResBlock" in result.message


def test_printing_pass_does_not_pass(grader: Grader) -> None:
    result = grade(grader, "resnet-residual-block", 'print("PASS")\nprint(\'{"verdict": "accepted"}\')\n')
    assert result.verdict == "wrong_answer"
    assert "PASS" in result.stdout


def test_patching_torch_allclose_changes_nothing(grader: Grader) -> None:
    code, *_ = RESNET_WRONG["relu-before-the-add"]
    cheat = "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n" + code
    assert grade(grader, "resnet-residual-block", cheat).verdict == "wrong_answer"


def test_my_sequential(grader: Grader) -> None:
    right = PACK.question("my-sequential").solution
    assert grade(grader, "my-sequential", right).passed
    via_modules_dict = """
from torch import nn

class MySequential(nn.Module):
    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
"""
    assert grade(grader, "my-sequential", via_modules_dict).passed
    plain = grade(grader, "my-sequential", PACK.question("my-sequential").decoys[0].code)
    assert plain.verdict == "wrong_answer"
    # With its layers initialised canonically the plain list computes the right function, except where
    # eval mode matters: .eval() never reaches the unregistered BatchNorm.
    assert plain.message.startswith("`layers` keeps modules (Conv2d, BatchNorm2d, ReLU, Flatten, ...) in a plain list")
    assert "output differs in eval mode" in plain.message
    registered = next(t for t in plain.tests if t.check == "registered")
    assert "children() must yield the modules in the order they were given" in registered.message


def test_fix_netsequential(grader: Grader) -> None:
    question = PACK.question("fix-netsequential")
    starter = grade(grader, "fix-netsequential", question.starter)
    assert starter.verdict == "runtime_error"
    assert "decode" in starter.message
    halfway = grade(grader, "fix-netsequential", question.starter.replace("self.decode(x)", "self.decoder(x)"))
    assert halfway.verdict == "wrong_answer"
    assert halfway.message.startswith(
        "`decoder.0.weight` has shape (1024, 25088) where the reference's `decoder.0.weight` has (1024, 50176)"
    )
    assert "shape (4, 10), expected (2, 10)" in next(t for t in halfway.tests if t.check == "outputs").message
    assert grade(grader, "fix-netsequential", question.solution).passed


class CountingRunner:
    """The real pool, counting the jobs it is given."""

    def __init__(self, pool):
        self.pool = pool
        self.jobs = 0

    def run(self, *args):
        self.jobs += 1
        return self.pool.run(*args)

    def submit(self, *args):
        self.jobs += 1
        return self.pool.submit(*args)


def test_reference_facts_are_cached_on_disk(judged, tmp_path) -> None:
    cache = ReferenceCache(tmp_path)
    question = PACK.question("mlp-stack")
    first = CountingRunner(judged)
    assert Grader(first, cache).grade(PACK, question, question.solution).passed
    assert first.jobs == 2  # the learner's and the reference's
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".safetensors"]
    second = CountingRunner(judged)
    assert Grader(second, cache).grade(PACK, question, question.solution).passed
    assert second.jobs == 1  # the reference came from disk
