"""Tenant-defined booking questions and validation of a customer's answers."""

from __future__ import annotations

import re
from typing import Any

from booking.db import Conn
from booking.errors import ApiError

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_ANSWER = 2000


QUESTIONS_SQL = "SELECT key, label, kind, choices, required FROM questions ORDER BY position, key"


def list_questions(conn: Conn) -> list[dict[str, Any]]:
    """The current tenant's questions in display order."""
    return [dict(r) for r in conn.execute(QUESTIONS_SQL)]


def replace_questions(conn: Conn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace all questions of the current tenant with `items` (validated)."""
    seen: set[str] = set()
    for i, q in enumerate(items):
        key = q.get("key")
        if not isinstance(key, str) or not KEY.fullmatch(key) or key in seen:
            raise ApiError(422, f"questions[{i}].key={key!r} must be unique, lower-case, start with a letter")
        seen.add(key)
        if not isinstance(q.get("label"), str) or not q["label"].strip():
            raise ApiError(422, f"questions[{i}].label must be a non-empty string")
        if q.get("kind") not in ("text", "choice"):
            raise ApiError(422, f"questions[{i}].kind={q.get('kind')!r}; allowed: 'text', 'choice'")
        choices = q.get("choices") or []
        if q["kind"] == "choice" and (not choices or not all(isinstance(c, str) for c in choices)):
            raise ApiError(422, f"questions[{i}].choices must list the allowed answers of a choice question")
    conn.execute("DELETE FROM questions")
    for pos, q in enumerate(items):
        conn.execute("INSERT INTO questions (tenant_id, key, label, kind, choices, required, position) "
                     "VALUES (current_setting('app.tenant_id')::uuid, %s, %s, %s, %s, %s, %s)",
                     (q["key"], q["label"], q["kind"], list(q.get("choices") or []), bool(q.get("required")), pos))
    return list_questions(conn)


def validate_answers(asked: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, str]:
    """Answers keyed by question key: required ones present, choices among the allowed, no unknown keys."""
    questions = {q["key"]: q for q in asked}
    for key in answers:
        if key not in questions:
            raise ApiError(422, f"answers.{key} is not a question of this business; "
                                f"allowed: {sorted(questions)}")
    out: dict[str, str] = {}
    for key, q in questions.items():
        value = answers.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if q["required"]:
                raise ApiError(422, f"answers.{key} is required ({q['label']})")
            continue
        if not isinstance(value, str) or len(value) > MAX_ANSWER:
            raise ApiError(422, f"answers.{key} must be text of at most {MAX_ANSWER} characters")
        if q["kind"] == "choice" and value not in q["choices"]:
            raise ApiError(422, f"answers.{key}={value!r} is not one of {q['choices']}")
        out[key] = value
    return out
