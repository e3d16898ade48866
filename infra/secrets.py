"""Config values that real stacks keep as Pulumi secrets, revealed only as secret Outputs."""

from __future__ import annotations

import re
from typing import Any

import pulumi

from infra.environment import NAMESPACE
from infra.schema import Secret

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _walk(document: Any, path: str) -> Any:
    value = document
    for name, index in _STEP.findall(path):
        value = value[name] if name else value[int(index)]
    return value


def reveal(value: str | Secret) -> pulumi.Input[str]:
    """A plain string as is; a `{secure: ...}` value as a secret Output decrypted by the engine.

    The environment file is validated with secrets still encrypted; the engine decrypts the whole
    top-level key (e.g. `slotstack:oncall`) and this picks the value out again, keeping it secret
    so that it never appears in plain text in the state or in previews.
    """
    if not isinstance(value, Secret):
        return value
    top, _, rest = value.path.partition(".")
    document = pulumi.Config(NAMESPACE).require_secret_object(top)
    return pulumi.Output.secret(document.apply(lambda doc: str(_walk(doc, rest))))
