"""Hashed answers and sealed texts for student builds (okpy's idea: ship the hash, not the answer).

The key of a question is derived from its correct answer in canonical form; the pack carries only a hash
of that key, and the texts that would give the answer away (the explanation, option feedback) encrypted
with it. A learner whose answer has the same canonical form gets the same key: the hash matches, and the
sealed texts open.

This is a deterrent, not secrecy: an answer with few possibilities (a choice between five options, a
small number) can be found by trying them all, as it can by answering in the app.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Iterable
from typing import Any

VERSION = b"quizapp-seal-1"


def canonical_choice(option_ids: Iterable[str]) -> str:
    return ",".join(sorted({str(o) for o in option_ids}))


NEAR_ZERO = 1e-5  # printed values smaller than this in magnitude count as 0 (float noise: 1.1921e-07, -0.0)


def canonical_printout(text: str) -> str:
    """One spelling for every accepted spelling of a printout: the printed values with numbers at four
    significant digits and magnitudes below NEAR_ZERO as 0, with the dtype, grad_fn and requires_grad it
    states (defaults left out); or the words when the printout has no values to read. The source pack and its
    student build both compare this form, so they accept the same answers."""
    from .answers import printed_tags, printed_values  # answers imports this module

    values = printed_values(text)
    if values is None:
        return " ".join(text.split())
    tags = printed_tags(text)
    form: Any = {"values": _rounded(values), "tags": tags} if tags else _rounded(values)
    return json.dumps(form, separators=(",", ":"))


def _rounded(value: Any) -> Any:
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        if abs(value) < NEAR_ZERO:
            return 0.0
        return float(f"{value:.4g}") + 0.0  # + 0.0 turns -0.0 into 0.0
    return value


def answer_key(pack_id: str, question_id: str, canonical: str) -> bytes:
    return hashlib.sha256(b"|".join([VERSION, pack_id.encode(), question_id.encode(), canonical.encode()])).digest()


def key_hash(key: bytes) -> str:
    return hashlib.sha256(b"hash|" + key).hexdigest()


def _stream(key: bytes, name: str, length: int) -> bytes:
    return hashlib.shake_256(b"seal|" + key + b"|" + name.encode()).digest(length)


def padded_size(texts: Iterable[str], block: int = 64) -> int:
    """One length for a group of sealed texts (a question's), so their sizes do not tell them apart."""
    longest = max((len(text.encode()) for text in texts), default=0)
    return (longest // block + 1) * block


def seal(key: bytes, name: str, text: str, size: int = 0) -> str:
    """`text` encrypted under `key`; padded with NULs to `size` bytes, so that an empty text (an option without
    feedback) looks like any other."""
    data = text.encode()
    data += b"\x00" * max(0, size - len(data))
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, _stream(key, name, len(data)), strict=True))).decode()


def unseal(key: bytes, name: str, token: str) -> str | None:
    try:
        data = base64.b64decode(token)
        return bytes(a ^ b for a, b in zip(data, _stream(key, name, len(data)), strict=True)).rstrip(b"\x00").decode()
    except (ValueError, UnicodeDecodeError):
        return None  # a wrong key almost never gives valid UTF-8; either way there is nothing to show


def unseal_all(key: bytes, sealed: dict[str, str]) -> dict[str, str]:
    """The texts a right answer opens; empty ones (padding only) are left out."""
    opened = {name: unseal(key, name, token) for name, token in sealed.items()}
    return {name: text for name, text in opened.items() if text}
