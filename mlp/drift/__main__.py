"""`python -m mlp.drift ...`: the drift job's entry point, with only the drift command's dependencies
(the drift image ships without Pulumi, which `mlp plan` needs)."""

import sys

from mlp.cli import main

sys.exit(main(["drift", *sys.argv[1:]], commands=("drift",)))
