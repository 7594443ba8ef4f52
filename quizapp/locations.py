"""Every path quizapp reads or writes outside its own package is decided here.

`QUIZAPP_HOME` moves all of them (tests set it to stay out of the user's home); otherwise platformdirs
picks the platform's data directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path

HOME_VARIABLE = "QUIZAPP_HOME"
PACKS_VARIABLE = "QUIZAPP_PACKS"


def data_dir() -> Path:
    """Where quizapp keeps the learner's data: progress, drafts, their own packs."""
    override = os.environ.get(HOME_VARIABLE)
    if override:
        return Path(override).expanduser()
    return user_data_path("quizapp", appauthor=False)


def user_packs_dir() -> Path:
    """Packs the user installed for themselves: every *.yaml or *.yml file in it is loaded."""
    return data_dir() / "packs"


def extra_pack_paths() -> list[Path]:
    """Files or folders listed in QUIZAPP_PACKS, separated like PATH (':' here, ';' on Windows)."""
    value = os.environ.get(PACKS_VARIABLE, "")
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def builtin_packs_dir() -> Path:
    """The packs shipped with quizapp: inside the wheel, or questions/ in a source checkout."""
    package = Path(__file__).resolve().parent
    shipped = package / "_builtin_packs"
    if shipped.is_dir():
        return shipped
    return package.parent / "questions"


def cache_dir() -> Path:
    """What can be rebuilt at any time: reference facts computed by the judge. Never visible to the jail."""
    return data_dir() / "cache"
