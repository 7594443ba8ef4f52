"""Red team: the jail, through the real jailed pool, with what tests/test_containment.py does not try.

Each answer reports what the jail let it do in its exception's message; the strict xfails say the cause.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from answers import RESNET_RIGHT

from quizapp import locations
from quizapp.grading.grader import Grader, ReferenceCache
from quizapp.packs import load_pack

ANSWERS = Path(__file__).parent / "redteam" / "answers"
MODULES = load_pack(locations.builtin_packs_dir() / "torch-modules.yaml")
RESNET = MODULES.question("resnet-residual-block")


@pytest.fixture(scope="module")
def grader(judged, tmp_path_factory: pytest.TempPathFactory) -> Grader:
    return Grader(judged, ReferenceCache(tmp_path_factory.mktemp("redteam-jail-cache")))


def test_a_job_cannot_open_a_vsock_socket(grader: Grader) -> None:
    result = grader.grade(MODULES, RESNET, (ANSWERS / "vsock_socket.py").read_text(encoding="utf-8"))
    assert "socket families the jail allowed" not in result.message, result.message


def test_a_job_that_stops_itself_is_not_taken_for_a_finished_job(grader: Grader) -> None:
    """Held: J stops itself (SIGSTOP) to say it is done; an answer doing it first gets no result out of it: a
    runtime_error, and the next answer is graded normally."""
    stopped = grader.grade(MODULES, RESNET, "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n")
    assert stopped.verdict == "runtime_error", stopped.to_json()
    assert "stopped itself" in stopped.message and "status 0" not in stopped.message
    right = grader.grade(MODULES, RESNET, RESNET_RIGHT["identity-and-functional-relu"])
    assert right.verdict == "accepted", right.to_json()
