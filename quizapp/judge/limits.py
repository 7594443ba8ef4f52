"""The limits of one job, as the judge knows them: a plain dataclass with the one set of defaults.

The pack schema has its own `packs.model.Limits` (with bounds, descriptions, YAML locations); the judge does
not depend on it. `JobLimits.of(anything)` converts at the boundary (Pool.run): a pack's Limits, a dict, or
None for the defaults. A test checks that the schema's defaults are these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class JobLimits:
    cpu_seconds: float = 5.0  # CPU time of the learner's process
    wall_seconds: float = 10.0  # wall-clock time of the whole job
    memory_mb: int = 768  # address space beyond the warm worker's own
    output_kb: int = 64  # stdout and stderr kept, together
    processes: int = 1  # processes and threads the learner may start
    file_size_kb: int = 1024  # largest file written in the scratch dir
    open_files: int = 64  # file descriptors open at once

    @classmethod
    def of(cls, limits: Any = None) -> JobLimits:
        """From a JobLimits, a mapping, or any object with these attributes (the pack schema's Limits)."""
        if limits is None:
            return cls()
        if isinstance(limits, cls):
            return limits
        get = limits.get if isinstance(limits, dict) else lambda name, default: getattr(limits, name, default)
        values = {}
        for spec in fields(cls):
            value = get(spec.name, spec.default)
            values[spec.name] = float(value) if spec.type == "float" else int(value)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def scratch_kb(self) -> int:
        """The size of a job's scratch tmpfs (full mode): room for four files of the largest size allowed."""
        return max(self.file_size_kb * 4, 64)
