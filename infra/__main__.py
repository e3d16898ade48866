"""Pulumi entry point: `pulumi up` in stack ENV realizes environments/Pulumi.ENV.yaml.

The environment is validated from its file, exactly as `slotstack validate` does, before any
resource is declared: an invalid environment plans nothing.
"""

import sys
from pathlib import Path

# `pulumi up` runs this file with infra/ as the working directory; the program imports itself as
# the `infra` package, so the repository root must be importable even without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra import environment, program
from infra.errors import SlotstackError

try:
    env = environment.load(pulumi.get_stack())
    program.build(env)
except environment.InvalidEnvironment as exc:
    raise pulumi.RunError("environment is invalid; nothing was planned:\n" + str(exc)) from None
except SlotstackError as exc:
    # e.g. no admin SSH key in $SLOTSTACK_SSH_PUBLIC_KEY, or no wheel to release: say what to do.
    raise pulumi.RunError(str(exc)) from None
