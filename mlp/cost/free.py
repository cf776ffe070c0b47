"""Types with no line on the bill: they cost nothing themselves, or what they cost is priced on
another resource. Listing them is what lets an unlisted, unpriced type be flagged rather than
counted as $0."""

from __future__ import annotations

from mlp.cost.core import PRICERS

# Types that cost nothing by themselves. Kubernetes workloads run on nodes priced through their
# node group or NodePool, so counting them again would double count.
FREE_TYPES = frozenset({
    "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
    "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "aws:ec2/networkAcl:NetworkAcl", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation", "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation",
    "aws:ec2/tag:Tag", "aws:ec2/flowLog:FlowLog", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/keyPair:KeyPair",
    # A network interface costs nothing; a public address on it is priced on its Elastic IP.
    "aws:ec2/networkInterface:NetworkInterface",
    "aws:kms/alias:Alias", "aws:kms/grant:Grant", "aws:kms/keyPolicy:KeyPolicy",
    "aws:glue/catalogDatabase:CatalogDatabase", "aws:glue/catalogTable:CatalogTable",  # the first million catalog objects are free
    "aws:bcmdata/export:Export",  # Data Exports are free; what they deliver is S3 storage, priced on the bucket
    "aws:ecr/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repositoryPolicy:RepositoryPolicy", "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
    # Cached images are storage of the repositories ECR creates for them; scans are Amazon Inspector's, per image.
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule", "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
    "aws:eks/addon:Addon", "aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/identityProviderConfig:IdentityProviderConfig",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup", "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy",
    "aws:sagemaker/model:Model", "aws:sagemaker/endpoint:Endpoint",  # an endpoint's instances are priced on its configuration
    "aws:cloudwatch/logStream:LogStream", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
    "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget",
    "aws:sqs/queuePolicy:QueuePolicy", "aws:sqs/redrivePolicy:RedrivePolicy", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:sns/topic:Topic", "aws:sns/topicSubscription:TopicSubscription", "aws:sns/topicPolicy:TopicPolicy",
    "aws:lambda/permission:Permission", "aws:ssm/parameter:Parameter", "aws:acm/certificate:Certificate",
    "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule", "aws:lb/targetGroup:TargetGroup", "aws:lb/targetGroupAttachment:TargetGroupAttachment",
    "aws:budgets/budget:Budget", "aws:budgets/budgetAction:BudgetAction", "aws:costexplorer/costAllocationTag:CostAllocationTag",
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor", "aws:costexplorer/anomalySubscription:AnomalySubscription",
    "aws:s3:BucketEventSubscription",
    "aws:codebuild/webhook:Webhook",  # what the runner costs is build minutes, priced on its project
})
# Whole services or packages that are free: IAM, S3 bucket configuration (the bucket itself is
# priced), auto scaling targets and policies (capacity is priced on what they scale), and
# providers that only compute values.
FREE_PREFIXES = ("aws:iam/", "aws:appautoscaling/", "random:", "tls:", "command:", "std:", "pulumi:")
_S3_PRICED = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}


def is_known_free(type_token: str) -> bool:
    if type_token in PRICERS:
        return False
    if type_token in FREE_TYPES or type_token.startswith(FREE_PREFIXES):
        return True
    if type_token.startswith("aws:s3/") and type_token not in _S3_PRICED:
        return True
    return type_token.startswith("kubernetes:")
