"""mlp: the platform's command line (offline plan, cost estimates, diffs, finance reports)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
