"""YAML read through PyYAML's node API, so every key and value keeps its line and column.

PyYAML's `safe_load` forgets positions and lets a repeated key silently win; here a document becomes
plain Python data plus a map from each path (a tuple of keys and indexes) to where it was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based

    @classmethod
    def of(cls, mark: yaml.Mark) -> Position:
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class Document:
    """Plain data and where each part of it was written."""

    data: Any
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    duplicate_keys: list[tuple[Path, Position, Position]] = field(default_factory=list)
    block_scalars: set[Path] = field(default_factory=set)
    block_indent: dict[Path, int] = field(default_factory=dict)
    quoted_scalars: set[Path] = field(default_factory=set)
    converted: int = 0  # values converted so far, aliases counted each time they are expanded

    def value_position(self, path: Path) -> Position:
        """Where the value at `path` starts, or its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key_position(self, path: Path) -> Position:
        """Where the key of the mapping entry at `path` is written, else where its value is."""
        return self.keys.get(path) or self.value_position(path)


class YamlSyntaxError(Exception):
    def __init__(self, message: str, position: Position):
        super().__init__(message)
        self.message = message
        self.position = position


# libyaml's parser where PyYAML was built with it (the wheels are): about five times faster on the built-in packs,
# with the same nodes and marks. A text it refuses is parsed again by the pure-Python loader, whose messages
# are the ones users see.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
Loader = yaml.SafeLoader | yaml.CSafeLoader


def parse(text: str) -> Document:
    """Parse one YAML document. Raises YamlSyntaxError with the position of the problem."""
    if _FAST_LOADER is not None:
        try:
            yaml.reader.Reader(text)  # the pure loader's check of characters, so both accept the same texts
            return _parse_with(_FAST_LOADER, text)
        except _Refused as error:  # the same from either loader: said now, without parsing again
            mark = error.problem_mark
            raise YamlSyntaxError(
                f"YAML syntax: {error.problem}", Position.of(mark) if mark else Position(1, 1)
            ) from None
        except yaml.YAMLError:
            pass
    try:
        return _parse_with(yaml.SafeLoader, text)
    except yaml.reader.ReaderError as error:
        line, column = _offset_position(text, error.position)
        message = f"YAML syntax: character {chr(error.character)!r} is not allowed in YAML text"
        raise YamlSyntaxError(message, Position(line, column)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position.of(mark) if mark else Position(1, 1)
        problem = error.problem or "invalid YAML"
        if error.context and error.context not in problem:
            problem = f"{problem} ({error.context})"
        raise YamlSyntaxError(f"YAML syntax: {problem}", position) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(f"YAML syntax: {error}", Position(1, 1)) from None
    except RecursionError:  # the pure-Python composer recurses once per level of nesting
        raise YamlSyntaxError(
            f"YAML syntax: values are nested more than {MAX_DEPTH} levels deep", Position(1, 1)
        ) from None


def _parse_with(loader_class: type[Loader], text: str) -> Document:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        document = Document(data=None)
        if node is not None:
            document.data = _convert(loader, node, (), document, text.splitlines(), set())
        return document
    finally:
        loader.dispose()


# A pack is untrusted input: its aliases may expand exponentially (a "billion laughs": ten aliases of ten
# aliases, nine deep) and its nesting may be deep enough to exhaust Python's stack. The built-in packs hold
# about 3,000 values each and nest 10 levels at most.
MAX_VALUES = 100_000
MAX_DEPTH = 100


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


class _Refused(yaml.constructor.ConstructorError):
    """A document this module refuses (a recursive alias, too many values, too deep), at its node."""


def _error(message: str, node: yaml.Node) -> yaml.MarkedYAMLError:
    return _Refused(None, None, message, node.start_mark)


def _convert(
    loader: Loader, node: yaml.Node, path: Path, document: Document, lines: list[str], active: set[int]
) -> Any:
    """Plain data from a node, recording positions. `active` holds the nodes being converted, so an alias
    that refers to one of its own ancestors is reported instead of recursing forever."""
    if id(node) in active:
        raise _error("this alias refers to a node that contains it (a recursive alias)", node)
    document.converted += 1
    if document.converted > MAX_VALUES:
        raise _error(
            f"the pack expands to more than {MAX_VALUES:,} values: are aliases (*name) repeated inside aliases?",
            node,
        )
    if len(path) > MAX_DEPTH:
        raise _error(f"values are nested more than {MAX_DEPTH} levels deep here", node)
    document.values[path] = Position.of(node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(loader, node, path, document, lines)
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            return [
                _convert(loader, item, (*path, index), document, lines, active) for index, item in enumerate(node.value)
            ]
        assert isinstance(node, yaml.MappingNode)  # the third and last kind of YAML node
        return _mapping(loader, node, path, document, lines, active)
    finally:
        active.discard(id(node))


def _place(key: str | int | float) -> str | int:
    """A key as a step of a path: pydantic locates a float key by its text ('1.5'), so positions must too."""
    return str(key) if isinstance(key, float) else key


def _mapping(
    loader: Loader, node: yaml.MappingNode, path: Path, document: Document, lines: list[str], active: set[int]
) -> dict[Any, Any]:
    own = [(k, v) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"]
    own_keys = {id(k) for k, _ in own}
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys into the node's pairs
    merged = [(k, v) for k, v in node.value if id(k) not in own_keys]
    result: dict[Any, Any] = {}
    for key_node, value_node in own:
        key = _scalar(loader, key_node, path, document, lines, record=False)
        if not isinstance(key, str | int | float | bool):
            raise _error("a mapping key must be a plain word or number", key_node)
        child: Path = (*path, _place(key))
        if key in result:
            document.duplicate_keys.append((child, document.keys[child], Position.of(key_node.start_mark)))
            continue
        document.keys[child] = Position.of(key_node.start_mark)
        result[key] = _convert(loader, value_node, child, document, lines, active)
    # Merged keys fill in what the mapping does not say itself; the mapping's own keys win (YAML merge rules).
    for key_node, value_node in merged:
        key = _scalar(loader, key_node, path, document, lines, record=False)
        if not isinstance(key, str | int | float | bool) or key in result:
            continue
        child = (*path, _place(key))
        document.keys[child] = Position.of(key_node.start_mark)
        result[key] = _convert(loader, value_node, child, document, lines, active)
    return result


def _scalar(
    loader: Loader, node: yaml.Node, path: Path, document: Document, lines: list[str], record: bool = True
) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise _error("a mapping key must be a plain word or number", node)
    if record and node.style in ("|", ">"):
        # A block scalar's text starts on the line after its indicator, at the block's indentation.
        document.block_scalars.add(path)
        for line in lines[node.start_mark.line + 1 : node.end_mark.line + 1]:
            if line.strip():
                document.block_indent[path] = len(line) - len(line.lstrip(" "))
                break
    elif record and node.style in ('"', "'"):
        document.quoted_scalars.add(path)
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as error:  # e.g. an integer longer than Python will convert
        raise _error(f"cannot read this value: {error}", node) from None
