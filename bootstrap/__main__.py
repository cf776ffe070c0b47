"""The bootstrap stack: read and validate its config, then declare what the platform's stacks
need before their first `pulumi up`."""

import sys
from pathlib import Path

# Pulumi runs this file from bootstrap/; the package and the platform's config types live one up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402

from bootstrap import inventory  # noqa: E402
from bootstrap.config import NAMESPACE, parse  # noqa: E402
from bootstrap.resources import Bootstrap  # noqa: E402

config = parse(pulumi.Config(NAMESPACE).require_object("settings"))
provider = aws.Provider(
    "bootstrap-aws",
    region=pulumi.Config("aws").require("region"),
    default_tags=aws.ProviderDefaultTagsArgs(tags={
        "CostCenter": config.cost_center, "Environment": "shared", "Project": config.project,
        "Team": config.team, "Component": "bootstrap", "ManagedBy": "pulumi",
    }),
)
bootstrap = Bootstrap("mlplatform-bootstrap", config, inventory.load(), opts=pulumi.ResourceOptions(providers=[provider]))
pulumi.export("backendUrl", bootstrap.state_bucket.bucket.apply(lambda bucket: f"s3://{bucket}"))
pulumi.export("secretsProvider", bootstrap.secrets_alias.name.apply(lambda alias: f"awskms://{alias}"))
pulumi.export("deployRoleArns", bootstrap.deploy_role_arns)
pulumi.export("previewRoleArns", bootstrap.preview_role_arns)
pulumi.export("costReportRoleArns", bootstrap.cost_report_role_arns)
pulumi.export("imagePushRoleArns", bootstrap.image_push_role_arns)
