"""Make `cli_helpers` importable (tests/ is not a package) and provide its `server` fixture."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cli_helpers import server  # noqa: E402,F401  (a fixture, found by pytest here)
