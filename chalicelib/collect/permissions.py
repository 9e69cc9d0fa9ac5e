"""Every IAM action the collectors call: the read half of the Lambda role's policy.

`READ_PERMISSIONS` are the reads of one diagnosis (the event function, `DiagnoseRole`, and the
member role without the Organizations ones); `MEMBERSHIP_PERMISSIONS` the event function's
reading of the organization's accounts (collect/membership.py), also granted to the
organization-read role (docs/deploy.md section 5).
"""

from __future__ import annotations

from .ec2 import VpcEndpointCollector
from .iam import IamCollector
from .kms import KmsKeyCollector
from .live import Boto3SnapshotSource
from .membership import OrganizationMembers
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

MEMBERSHIP_PERMISSIONS: frozenset[str] = frozenset(OrganizationMembers.permissions)
