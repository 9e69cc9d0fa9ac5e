"""Every IAM action the collectors call: the read half of the Lambda role's policy."""

from __future__ import annotations

from .ec2 import VpcEndpointCollector
from .iam import IamCollector
from .kms import KmsKeyCollector
from .live import Boto3SnapshotSource
from .organizations import OrganizationCollector
from .s3 import (
    AccessPointCollector,
    AccountSettingsCollector,
    BucketCollector,
    ObjectCollector,
)

COLLECTORS = (
    Boto3SnapshotSource,
    IamCollector,
    BucketCollector,
    ObjectCollector,
    AccountSettingsCollector,
    AccessPointCollector,
    KmsKeyCollector,
    VpcEndpointCollector,
    OrganizationCollector,
)

READ_PERMISSIONS: frozenset[str] = frozenset(
    action for collector in COLLECTORS for action in collector.permissions
)
