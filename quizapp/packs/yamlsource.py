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


def parse(text: str) -> Document:
    """Parse one YAML document. Raises YamlSyntaxError with the position of the problem."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        document = Document(data=None)
        if node is not None:
            document.data = _convert(loader, node, (), document, text.splitlines())
        return document
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position.of(mark) if mark else Position(1, 1)
        problem = error.problem or "invalid YAML"
        if error.context and error.context not in problem:
            problem = f"{problem} ({error.context})"
        raise YamlSyntaxError(f"YAML syntax: {problem}", position) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(f"YAML syntax: {error}", Position(1, 1)) from None
    finally:
        loader.dispose()


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: Path, document: Document, lines: list[str]) -> Any:
    document.values[path] = Position.of(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain scalar", key_node.start_mark
                )
            child: Path = (*path, key)
            if key in result:
                document.duplicate_keys.append((child, document.keys[child], Position.of(key_node.start_mark)))
                continue
            document.keys[child] = Position.of(key_node.start_mark)
            result[key] = _convert(loader, value_node, child, document, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, (*path, index), document, lines) for index, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        # A block scalar's text starts on the line after its indicator, at the block's indentation.
        document.block_scalars.add(path)
        for line in lines[node.start_mark.line + 1 : node.end_mark.line + 1]:
            if line.strip():
                document.block_indent[path] = len(line) - len(line.lstrip(" "))
                break
    return loader.construct_object(node, deep=True)
