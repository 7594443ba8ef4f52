"""The wheel ships the built-in packs, and an installed quizapp finds them there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_builtin_packs_and_finds_them(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("quizapp-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "quizapp/_builtin_packs/torch-modules.yaml" in names
        assert "quizapp/packs/loader.py" in names
        assert not any(name.startswith("tests/") for name in names)
        site = tmp_path / "site"
        archive.extractall(site)
    environment = {**os.environ, "PYTHONPATH": str(site), "QUIZAPP_HOME": str(tmp_path / "home")}
    environment.pop("QUIZAPP_PACKS", None)
    done = subprocess.run(
        [sys.executable, "-c", "import quizapp.cli, sys; sys.exit(quizapp.cli.main(['list', '--json']))"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{site}/quizapp/_builtin_packs/torch-modules.yaml" in done.stdout
    assert '"resnet-residual-block"' in done.stdout
