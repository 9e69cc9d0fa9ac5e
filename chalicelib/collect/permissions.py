"""Every IAM action the collectors call: the read half of the Lambda role's policy."""

from __future__ import annotations

from chalicelib.collect.ec2 import VpcEndpointCollector
from chalicelib.collect.iam import IamCollector
from chalicelib.collect.kms import KmsKeyCollector
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.organizations import OrganizationCollector
from chalicelib.collect.s3 import (
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
