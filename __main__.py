"""mlplatform: one environment's machine-learning platform, built from its stack config."""

import pulumi

from components.config import ConfigError, load_from_pulumi
from components.platform import Platform

try:
    config = load_from_pulumi()
except ConfigError as error:
    # RunError is shown to the user as a plain message, without a Python traceback.
    raise pulumi.RunError(f"stacks/Pulumi.{pulumi.get_stack()}.yaml: {error}") from None

platform = Platform("mlplatform", config)
for output_name, value in platform.outputs.items():
    pulumi.export(output_name, value)
