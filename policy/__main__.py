"""Entry point the Pulumi CLI runs for `--policy-pack policy`."""

import sys
from pathlib import Path

# The pack lives inside the project and enforces the project's own contract (components.tagging).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.pack import PACK_NAME, build_policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
