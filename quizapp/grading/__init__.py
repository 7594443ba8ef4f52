"""Grading: turn an answer into a Result. Plain Python: no torch, no textual.

Choice, predict and explain answers are compared here, in process. Code answers go to the judge's pool
as probe jobs; their facts, and the reference's, are compared here, outside the jail.
"""

from .result import Result, TestResult, Verdict

__all__ = ["Result", "TestResult", "Verdict"]
