"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policy`."""

import sys
from pathlib import Path

# The pack shares the residency table and resource classification with the program (infra/), so
# the repository root must be importable whichever directory the CLI starts us in.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from policy.pack import serve  # noqa: E402 - needs the path above

serve()
