"""`quizapp build --student`: a pack to hand to students, without the answers, graded like its source.

What changes from the source pack:
- code and fix questions lose their solution and decoys, and carry the reference's facts instead
  (computed once in the jail: JSON, and tensors as base64 safetensors, a format that cannot run code);
- choice questions lose which options are correct, predict questions their printed answer: each keeps a
  hash of the right answer's canonical form (see sealing.py);
- the texts that state the answer (choice and predict explanations, option feedback) are sealed with a
  key derived from the right answer, and open when a learner answers right; every option has a sealed
  feedback of one padded size, so the file does not show which options the author commented on;
- options are stored in a fixed shuffled order, not the author's (unless the question sets `shuffle: false`).
Prompts, starters, hints, checks and explain questions' model answers stay as they are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from typing import Any

import yaml

from ..packs import model
from . import sealing
from .grader import Grader

SEALED_EXPLANATION = "Answer this question correctly to read its explanation."


def student_pack(pack: model.Pack, grader: Grader) -> dict[str, Any]:
    data = pack.model_dump(mode="json", exclude_none=True)
    data["build"] = "student"
    for question, entry in zip(pack.questions, data["questions"], strict=True):
        if isinstance(question, model.CodeBase):
            facts, blob = grader.reference_raw(pack, question)
            entry.pop("solution", None)
            entry.pop("decoys", None)
            entry["reference_facts"] = json.dumps(facts, separators=(",", ":"))
            entry["reference_tensors"] = base64.b64encode(blob).decode()
        elif isinstance(question, model.ChoiceQuestion):
            key = sealing.answer_key(pack.id, question.id, sealing.canonical_choice(question.correct_ids))
            entry["answer_hash"] = sealing.key_hash(key)
            # Every option gets a sealed feedback of one padded size, empty or not: neither the keys nor the
            # sizes say which options the author commented on (in a tick-all question, often the correct ones).
            size = sealing.padded_size(option.feedback or "" for option in question.options)
            sealed = {"explanation": sealing.seal(key, "explanation", question.explanation)}
            for option, option_entry in zip(question.options, entry["options"], strict=True):
                option_entry.pop("correct", None)
                option_entry.pop("feedback", None)
                sealed[f"feedback:{option.id}"] = sealing.seal(
                    key, f"feedback:{option.id}", option.feedback or "", size
                )
            if question.shuffle:  # the app shuffles them anyway; the file must not keep the author's order
                entry["options"] = _shuffled(entry["options"], f"{pack.id}/{question.id}")
            if question.select is None:  # keep the widget the source pack would show
                entry["select"] = "many" if question.selects_many else "one"
            entry["sealed"] = sealed
            entry["explanation"] = SEALED_EXPLANATION
        elif isinstance(question, model.PredictQuestion):
            spellings = [question.answer or "", *question.accept]
            keys = [sealing.answer_key(pack.id, question.id, sealing.canonical_printout(s)) for s in spellings]
            entry.pop("answer", None)
            entry.pop("accept", None)
            entry["answer_hashes"] = sorted({sealing.key_hash(k) for k in keys})
            entry["sealed"] = {"explanation": sealing.seal(keys[0], "explanation", question.explanation)}
            entry["explanation"] = SEALED_EXPLANATION
    return data


def _shuffled(items: list[Any], seed: str) -> list[Any]:
    """A fixed shuffle (the same build every time) that owes nothing to the author's order or to correctness."""
    order = random.Random(hashlib.sha256(b"quizapp-options|" + seed.encode()).digest())
    shuffled = list(items)
    order.shuffle(shuffled)
    return shuffled


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and len(value) < 20_000 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def student_yaml(pack: model.Pack, grader: Grader) -> str:
    header = (
        f"# Student build of {pack.id} {pack.version}, made by `quizapp build --student`.\n"
        "# It holds no solutions and no plain answers; quizapp grades it exactly like its source pack.\n"
    )
    body = yaml.dump(student_pack(pack, grader), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body
