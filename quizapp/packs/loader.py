"""Load a pack file: YAML with positions, pydantic validation, then the rules a schema cannot say.

Every problem names file, line, column and the field path, and all problems of a file are reported at
once: the header and each question are validated separately, so one broken question does not hide the
problems of the others. Nothing here raises a traceback for a bad pack; `PackError` carries the list.
"""

from __future__ import annotations

import ast
import difflib
import re
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..pyparse import parse as parse_python
from . import model
from .problems import PackError, Problem, Severity, format_path
from .yamlsource import Document, Path, YamlSyntaxError, parse

_question_adapter: TypeAdapter[Any] = TypeAdapter(model.Question)
_SLUG_PATTERN = model.SLUG_PATTERN


@dataclass(frozen=True)
class LoadResult:
    """A pack (None when it has errors) and every problem found, warnings included."""

    file: str
    pack: model.Pack | None
    problems: list[Problem]
    document: Document | None = None  # where each part of the file was written, to locate later problems

    def problem_at(self, path: Path, message: str, severity: Severity = "error") -> Problem:
        """A problem about the part of this file at `path`, e.g. ('questions', 3, 'decoys', 0, 'fails')."""
        position = self.document.value_position(path) if self.document else None
        line, column = (position.line, position.column) if position else (1, 1)
        return Problem(self.file, line, column, message, format_path(path), severity)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def load_pack(path: str | FilePath) -> model.Pack:
    """The pack at `path`, or PackError with every problem in it."""
    result = check_pack_file(path)
    if result.pack is None:
        raise PackError(result.errors)
    return result.pack


def check_pack_file(path: str | FilePath, display: str | None = None) -> LoadResult:
    name = display or str(path)
    try:
        text = FilePath(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return LoadResult(name, None, [Problem(name, 1, 1, f"not UTF-8 text: {error.reason}")])
    except OSError as error:
        return LoadResult(name, None, [Problem(name, 1, 1, f"cannot read: {error.strerror or error}")])
    return check_pack_text(text, name)


def check_pack_text(text: str, name: str = "<pack>") -> LoadResult:
    try:
        document = parse(text)
    except YamlSyntaxError as error:
        return LoadResult(name, None, [Problem(name, error.position.line, error.position.column, error.message)])
    checker = _Checker(name, document)
    pack = checker.run()
    problems = sorted(checker.problems, key=lambda p: (p.line, p.column))
    valid = not any(p.severity == "error" for p in problems)
    return LoadResult(name, pack if valid else None, problems, document)


class _Checker:
    def __init__(self, name: str, document: Document):
        self.name = name
        self.document = document
        self.problems: list[Problem] = []

    # -- reporting ---------------------------------------------------------------------------------

    def at_value(self, path: Path, message: str, severity: Severity = "error") -> None:
        position = self.document.value_position(path)
        self.problems.append(Problem(self.name, position.line, position.column, message, format_path(path), severity))

    def at_key(self, path: Path, message: str) -> None:
        position = self.document.key_position(path)
        self.problems.append(Problem(self.name, position.line, position.column, message, format_path(path)))

    def at_source_line(self, path: Path, line: int, column: int, message: str) -> None:
        """A problem inside a block of source code kept in a YAML string."""
        start = self.document.value_position(path)
        offset = 1 if path in self.document.block_scalars else 0
        quote = 1 if path in self.document.quoted_scalars else 0
        where = self.document.block_indent.get(path, start.column - 1 + quote)
        self.problems.append(
            Problem(self.name, start.line + offset + line - 1, where + column, message, format_path(path))
        )

    # -- the pass ------------------------------------------------------------------------------------

    def run(self) -> model.Pack | None:
        for path, first, _again in self.document.duplicate_keys:
            self.at_key(path, f"key '{path[-1]}' appears twice in this mapping (first at line {first.line})")
            self.problems[-1] = _moved(self.problems[-1], _again)
        data = self.document.data
        if not isinstance(data, dict):
            self.at_value((), f"a pack is a mapping of keys (format, id, title, ...), not {_describe(data)}")
            return None
        if not self._format_ok(data):
            return None
        header = {key: value for key, value in data.items() if key != "questions"}
        self._validate(model.PackHeader, header, ())
        questions = data.get("questions")
        valid: list[Any] = []
        valid_at: list[tuple[int, Any]] = []
        if questions is None:
            self.at_value((), "missing required key 'questions': a pack needs at least one question")
        elif not isinstance(questions, list):
            self.at_value(("questions",), f"'questions' must be a list of questions, not {_describe(questions)}")
        else:
            if not questions:
                self.at_value(("questions",), "'questions' is empty: a pack needs at least one question")
            for index, raw in enumerate(questions):
                question = self._validate(_question_adapter, raw, ("questions", index))
                if isinstance(raw, dict):
                    self._check_unique_ids(raw, ("questions", index))
                if question is not None:
                    self._check_question(question, ("questions", index), student=data.get("build") == "student")
                    valid.append(question)
                    valid_at.append((index, question))
            self._check_unique(
                ((("questions", i, "id"), q.get("id")) for i, q in enumerate(questions) if isinstance(q, dict)),
                "question id",
            )
            for index, raw in enumerate(questions):
                if isinstance(raw, dict) and raw.get("id") in model.RESERVED_QUESTION_IDS:
                    self.at_value(
                        ("questions", index, "id"),
                        f"'{raw['id']}' names a column of grade-batch's gradebook "
                        f"({', '.join(model.RESERVED_QUESTION_IDS)}): choose another id",
                    )
            if data.get("format") == 1:
                for index, question in valid_at:
                    self._check_format_1(question, ("questions", index))
        if any(p.severity == "error" for p in self.problems):
            return None
        return model.Pack.model_validate(data)

    def _format_ok(self, data: dict[Any, Any]) -> bool:
        if "format" not in data:
            self.at_value((), f"missing required key 'format': start the pack with 'format: {model.FORMAT_VERSION}'")
            return False
        if type(data["format"]) is not int or data["format"] not in model.FORMATS:
            readable = " and ".join(str(f) for f in model.FORMATS)
            self.at_value(
                ("format",),
                f"format {data['format']!r} is not one this quizapp reads: it reads formats {readable}",
            )
            return False
        return True

    def _check_format_1(self, value: Any, at: Path) -> None:
        """A format-1 pack says only what format 1 can: each key or kind format 2 introduced is named."""
        if isinstance(value, BaseModel):
            owner = type(value)
            if getattr(owner, "SINCE_FORMAT", 1) > 1:
                what = f"check kind '{value.kind}'" if hasattr(value, "kind") else f"'{_key_name(at)}'"
                self.at_value(at, f"{what} needs 'format: 2' at the top of the pack (this pack says format 1)")
                return
            for name in sorted(value.model_fields_set, key=list(owner.model_fields).index):
                if model.field_since(owner, name) > 1:
                    self.at_key(
                        (*at, name), f"'{name}' needs 'format: 2' at the top of the pack (this pack says format 1)"
                    )
                else:
                    self._check_format_1(getattr(value, name), (*at, name))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                self._check_format_1(item, (*at, index))
        elif isinstance(value, dict):
            for key, item in value.items():
                self._check_format_1(item, (*at, key))

    def _validate(self, schema: type[BaseModel] | TypeAdapter[Any], raw: Any, prefix: Path) -> Any:
        try:
            if isinstance(schema, TypeAdapter):
                return schema.validate_python(raw)
            return schema.model_validate(raw)
        except ValidationError as error:
            self._report(error, prefix)
            return None

    # -- pydantic errors, in words ------------------------------------------------------------------

    def _report(self, error: ValidationError, prefix: Path) -> None:
        by_path: dict[Path, list[str]] = {}
        order: list[Path] = []
        placed: dict[Path, str] = {}
        for item in error.errors(include_url=False):
            loc = (*prefix, *item["loc"])
            path = _data_path(self.document.data, loc)
            message, at, path = self._explain(item, loc, path)
            if path not in by_path:
                by_path[path] = []
                order.append(path)
                placed[path] = at
            if message not in by_path[path]:
                by_path[path].append(message)
        for path in order:
            messages = _merge_missing(by_path[path])
            text = messages[0] if len(messages) == 1 else "; or ".join(messages)
            (self.at_key if placed[path] == "key" else self.at_value)(path, text)

    def _explain(self, item: Any, loc: Path, path: Path) -> tuple[str, str, Path]:
        kind = item["type"]
        ctx = item.get("ctx") or {}
        value = item.get("input")
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(loc[:-1])
            return f"unknown key '{key}'{_suggest(key, allowed, listing=True)}", "key", path
        if kind == "missing":
            field = str(loc[-1])
            owner = _resolve(loc[:-1])
            if field == "solution" and owner in (model.CodeQuestion, model.FixQuestion):
                what = "code" if owner is model.CodeQuestion else "fix"
                return f"a {what} question needs a reference solution: add 'solution'", "value", path
            return f"missing required key '{field}'", "value", path
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            what = "check" if "checks" in loc else "question"
            expected = model.CHECK_KINDS if what == "check" else model.QUESTION_KINDS
            listed = ", ".join(expected)
            if kind == "union_tag_not_found":
                return f"missing key 'kind': a {what} needs one of {listed}", "value", path
            tag = str(ctx.get("tag"))
            return (
                f"unknown {what} kind '{tag}'{_suggest(tag, expected)} (the kinds are {listed})",
                "value",
                (*path, "kind"),
            )
        if kind == "literal_error":
            expected = ctx.get("expected", "")
            guess = _suggest(str(value), _literal_values(loc)) if isinstance(value, str) else ""
            return f"expected {expected}, got {_show(value)}{guess}", "value", path
        if kind in _TYPE_WORDS or kind in ("model_type", "model_attributes_type", "dict_type"):
            hint = ""
            if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
                hint = f" (YAML read a number: quote it, '{value}')"
            return f"expected {_TYPE_WORDS.get(kind, 'a mapping')}, got {_describe(value)}{hint}", "value", path
        if kind == "string_pattern_mismatch" and ctx.get("pattern") == _SLUG_PATTERN:
            return (
                f"{_show(value)} is not a valid id: use lowercase letters, digits and dashes, e.g. 'resnet-block'",
                "value",
                path,
            )
        if kind == "too_short" and isinstance(value, list | dict | str):
            needed = ctx.get("min_length", 1)
            return f"needs at least {needed} item{'s' if needed != 1 else ''}, has {len(value)}", "value", path
        message = str(item["msg"])
        return message[:1].lower() + message[1:], "value", path

    # -- rules beyond the schema --------------------------------------------------------------------

    def _check_unique(self, entries: Iterable[tuple[Path, Any]], what: str) -> None:
        seen: dict[Any, Path] = {}
        for path, value in entries:
            if not isinstance(value, str | int):
                continue
            if value in seen:
                first = self.document.value_position(seen[value])
                self.at_value(path, f"duplicate {what} '{value}' (first at line {first.line})")
            else:
                seen[value] = path

    def _check_question(self, question: Any, at: Path, student: bool = False) -> None:
        if isinstance(question, model.ChoiceQuestion):
            self._check_choice(question, at, student)
        elif isinstance(question, model.CodeBase):
            self._check_code(question, at, student)
        elif isinstance(question, model.PredictQuestion):
            self._check_python(question.snippet, (*at, "snippet"), "snippet")
            if student and not question.answer_hashes:
                self.at_value(at, "a predict question of a student build needs 'answer_hashes'")
            elif not student and question.answer is None:
                self.at_value(at, "missing required key 'answer': what the snippet prints")
        if question.sealed and not student:
            self.at_value((*at, "sealed"), "'sealed' texts belong to student builds (build: student)")

    def _check_unique_ids(self, raw: dict[Any, Any], at: Path) -> None:
        """Ids within a question's lists, checked on the raw data so a question's other errors don't hide them."""
        for key, what in (
            ("options", "option id"),
            ("checks", "check id"),
            ("decoys", "decoy id"),
            ("rubric", "rubric point id"),
        ):
            items = raw.get(key)
            if isinstance(items, list):
                self._check_unique(
                    (((*at, key, i, "id"), item.get("id")) for i, item in enumerate(items) if isinstance(item, dict)),
                    what,
                )

    def _check_choice(self, question: model.ChoiceQuestion, at: Path, student: bool = False) -> None:
        correct = question.correct_ids
        if student:
            if correct or not question.answer_hash:
                self.at_value(at, "a choice question of a student build has 'answer_hash' and no option marked correct")
            return
        if not correct:
            self.at_value((*at, "options"), "no option is correct: mark at least one option with 'correct: true'")
        elif question.select == "one" and len(correct) > 1:
            self.at_value(
                (*at, "select"),
                f"'select: one' but {len(correct)} options are correct ({', '.join(correct)}): "
                "use 'select: many' or mark one",
            )

    def _check_code(self, question: model.CodeBase, at: Path, student: bool = False) -> None:
        check_ids = [check.id for check in question.checks]
        if student:
            if question.solution is not None or question.decoys:
                self.at_value(at, "a student build carries no 'solution' and no 'decoys'")
            if question.reference_facts is None:
                self.at_value(at, "a code question of a student build needs 'reference_facts'")
        elif question.solution is None:
            what = "code" if isinstance(question, model.CodeQuestion) else "fix"
            self.at_value(at, f"a {what} question needs a reference solution: add 'solution'")
        if question.solution is None:
            return
        tree = self._check_python(question.solution, (*at, "solution"), "solution")
        if tree is not None and question.entry_point not in _top_level_names(tree):
            self.at_value(
                (*at, "solution"),
                f"the solution does not define '{question.entry_point}' (the entry_point) at its top level",
            )
        if isinstance(question, model.FixQuestion) and question.starter.strip() == (question.solution or "").strip():
            self.at_value((*at, "starter"), "the starter is the solution itself: a fix question needs defects")
        for index, decoy in enumerate(question.decoys):
            self._check_python(decoy.code, (*at, "decoys", index, "code"), "decoy")
            if decoy.fails not in check_ids:
                self.at_value(
                    (*at, "decoys", index, "fails"),
                    f"decoy '{decoy.id}' names check '{decoy.fails}', which this question does not have"
                    f"{_suggest(decoy.fails, check_ids, listing=True)}",
                )
        for index, check in enumerate(question.checks):
            self._check_check(check, (*at, "checks", index), question.entry_point_kind == "function")

    def _check_check(self, check: Any, at: Path, function: bool = False) -> None:
        runs_forward = isinstance(check, model.OutputsCheck | model.GradientsCheck | model.TraceCheck)
        for index, case in enumerate(getattr(check, "cases", [])):
            where = (*at, "cases", index)
            if runs_forward and not case.inputs and not case.calls:
                self.at_value(
                    where, f"a case of a {check.kind} check needs 'inputs' or 'calls': the forward calls to make"
                )
            if case.inputs and case.calls:
                self.at_value((*where, "calls"), "give either 'inputs' or 'calls' for a case, not both")
            if case.build is not None and (case.args or case.kwargs):
                self.at_value((*where, "build"), "give either 'build' or 'args'/'kwargs' for a case, not both")
            if case.init is not None and (case.build is not None or case.args or case.kwargs):
                self.at_value((*where, "init"), "give either 'init' or 'args'/'kwargs' or 'build' for a case, not two")
            if case.init is not None:
                self._check_call(case.init, (*where, "init"))
            if case.build is not None:
                self._check_python(case.build, (*where, "build"), "build expression", mode="eval")
            if function and (case.args or case.kwargs or case.init is not None):
                key = "args" if case.args else "kwargs" if case.kwargs else "init"
                self.at_value(
                    (*where, key),
                    "the entry point is a function (entry_point_kind: function): nothing is constructed, so a case "
                    "has no constructor arguments; give the function's arguments in 'calls'",
                )
            if function and isinstance(check, model.StructureCheck) and case.build is None:
                self.at_value(
                    where,
                    "a structure check needs a module, and the entry point is a function: give the case a 'build' "
                    "expression that makes one, or drop the check",
                )
            for call_index, call in enumerate(case.calls):
                self._check_call(call, (*where, "calls", call_index))
        if isinstance(check, model.TraceCheck):
            for index, rule in enumerate(check.rules):
                where = (*at, "rules", index)
                set_fields = [name for name in ("merges_input", "op", "last") if getattr(rule, name)]
                if len(set_fields) != 1:
                    self.at_value(
                        where, "a trace rule needs exactly one of 'merges_input', 'op' (with 'count'), 'last'"
                    )
                elif (rule.op is None) != (rule.count is None):
                    self.at_value(where, "'op' and 'count' go together in a trace rule")
        elif isinstance(check, model.SourceCheck):
            for index, source_rule in enumerate(check.rules):
                fields = source_rule.model_dump(exclude={"message"}, exclude_defaults=True)
                if not fields:
                    self.at_value(
                        (*at, "rules", index),
                        "an empty source rule: give forbid_names, forbid_imports, require_names, subclass or max_lines",
                    )
        elif isinstance(check, model.ExpressionCheck):
            if check.setup:
                self._check_python(check.setup, (*at, "setup"), "setup")
            for index, expression in enumerate(check.expressions):
                self._check_python(expression.expr, (*at, "expressions", index, "expr"), "expression", mode="eval")
        elif isinstance(check, model.CustomCheck):
            tree = self._check_python(check.probe, (*at, "probe"), "probe")
            if tree is not None and "probe" not in _top_level_names(tree):
                self.at_value((*at, "probe"), "a custom check's probe must define 'def probe(ns):'")
            if check.verdict:
                tree = self._check_python(check.verdict, (*at, "verdict"), "verdict")
                if tree is not None and "verdict" not in _top_level_names(tree):
                    self.at_value(
                        (*at, "verdict"), "a custom check's verdict must define 'def verdict(learner, reference):'"
                    )

    def _check_call(self, call: model.Call, at: Path) -> None:
        """`same_as` names another tensor argument of the same call."""
        arguments: list[tuple[Any, Any, Path]] = [(i, value, (*at, "args", i)) for i, value in enumerate(call.args)]
        arguments += [(key, value, (*at, "kwargs", key)) for key, value in call.kwargs.items()]
        tensors = {key for key, value, _ in arguments if isinstance(value, model.TensorSpec)}
        for _key, value, where in arguments:
            if isinstance(value, model.SameAs) and value.same_as not in tensors:
                named = f"argument {value.same_as}" if isinstance(value.same_as, int) else f"'{value.same_as}'"
                listed = ", ".join(str(t) for t in tensors) or "none"
                self.at_value(
                    (*where, "same_as"),
                    f"same_as names {named}, which is not a tensor argument of this call (tensor arguments: {listed})",
                )

    def _check_python(self, source: str, at: Path, what: str, mode: str = "exec") -> ast.AST | None:
        try:
            tree: ast.AST = parse_python(source, mode=mode)
            return tree
        except SyntaxError as error:
            line = error.lineno or 1
            column = error.offset or 1
            self.at_source_line(at, line, column, f"syntax error in the {what}: {error.msg}")
        except (RecursionError, MemoryError, ValueError) as error:
            reason = "nested too deeply to parse" if not isinstance(error, ValueError) else str(error)
            self.at_value(at, f"the {what} cannot be parsed: {reason}")
        return None


_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
}


def _key_name(at: Path) -> str:
    names = [str(part) for part in at if isinstance(part, str)]
    return names[-1] if names else "this"


def _moved(problem: Problem, position: Any) -> Problem:
    return Problem(problem.file, position.line, position.column, problem.message, problem.path, problem.severity)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {_show(value)}"
    return f"{type(value).__name__} {value!r}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _suggest(word: str, candidates: Iterable[str], listing: bool = False) -> str:
    candidates = list(candidates)
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f": did you mean '{close[0]}'?"
    if listing and candidates:
        shown = ", ".join(sorted(candidates)) if len(candidates) <= 16 else ", ".join(sorted(candidates)[:16]) + ", ..."
        return f" (expected one of: {shown})"
    return ""


def _data_path(data: Any, loc: Path) -> Path:
    """The path in the YAML data that a pydantic location refers to.

    Pydantic's locations also hold union tags ('code', 'outputs') and type names; those are not in the
    data and are skipped.
    """
    path: list[str | int] = []
    current = data
    for item in loc:
        if isinstance(current, dict) and item in current:
            current = current[item]
            path.append(item)
        elif isinstance(current, list) and isinstance(item, int) and 0 <= item < len(current):
            current = current[item]
            path.append(item)
    return tuple(path)


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return tp


def _union_members(tp: Any) -> Iterator[Any]:
    for member in typing.get_args(tp):
        yield _strip(member)


def _resolve(loc: Path) -> Any:
    """The type that a pydantic location points into, walking from Pack (None when it cannot tell)."""
    tp: Any = model.Pack
    for item in loc:
        tp = _strip(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(item))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            for member in _union_members(tp):
                if isinstance(member, type) and issubclass(member, BaseModel):
                    kind = member.model_fields.get("kind")
                    tags = typing.get_args(kind.annotation) if kind else ()
                    if item in tags or item == member.__name__:
                        tp = member
                        break
            else:
                return None
        else:
            return None
    return _strip(tp)


def _allowed_keys(loc: Path) -> list[str]:
    owner = _resolve(loc)
    if isinstance(owner, type) and issubclass(owner, BaseModel):
        return list(owner.model_fields)
    return []


def _literal_values(loc: Path) -> list[str]:
    tp = _resolve(loc)
    if typing.get_origin(tp) is typing.Literal:
        return [str(v) for v in typing.get_args(tp)]
    return []


def _top_level_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


_MISSING = re.compile(r"^missing required key '([^']+)'$")


def _merge_missing(messages: list[str]) -> list[str]:
    """Several keys missing from one mapping are one problem, said once ("missing required keys 'a', 'b' and
    'c'"), not alternatives joined by "or" (which is right only for the branches of a union)."""
    missing = [m.group(1) for m in map(_MISSING.match, messages) if m]
    if len(missing) < 2:
        return messages
    keys = [f"'{key}'" for key in missing]
    merged = f"missing required keys {', '.join(keys[:-1])} and {keys[-1]}"
    rest = [message for message in messages if not _MISSING.match(message)]
    return [merged, *rest]
