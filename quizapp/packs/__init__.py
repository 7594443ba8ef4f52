"""Question packs: the format-1 model, the YAML loader with located errors, and pack discovery."""

from .discovery import Catalogue, discover
from .loader import LoadResult, check_pack_file, check_pack_text, load_pack
from .model import FORMAT_VERSION, Pack, json_schema
from .problems import PackError, Problem

__all__ = [
    "FORMAT_VERSION",
    "Catalogue",
    "LoadResult",
    "Pack",
    "PackError",
    "Problem",
    "check_pack_file",
    "check_pack_text",
    "discover",
    "json_schema",
    "load_pack",
]
