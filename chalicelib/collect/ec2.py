"""VPC endpoints, as `aws ec2 describe-vpc-endpoints` returns each item (policy included).

An endpoint named but not found is never left out (the snapshot format reads a missing endpoint
as "the default full-access policy"): it is an `$unreadable` marker with the API's not-found code
(`NOT_FOUND_CODES`), so the diagnosis lists the endpoint policy as unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from ..model import Json
from .base import Absent, Fetched, Present, Read, ReadPlan, Unreadable

ENDPOINT_NOT_FOUND = "InvalidVpcEndpointId.NotFound"

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


class VpcEndpointCollector:
    """Reads the VPC endpoints a request went through."""

    permissions: ClassVar[tuple[str, ...]] = ("ec2:DescribeVpcEndpoints",)

    def __init__(self, ec2_for_region: Callable[[str | None], EC2Client], plan: ReadPlan) -> None:
        self._ec2_for_region = ec2_for_region
        self._plan = plan
        self.endpoints: dict[str, Json] = {}

    def document(self) -> Json:
        return dict(sorted(self.endpoints.items()))

    def add_endpoint(self, endpoint_id: str, region: str | None = None) -> None:
        """Read the endpoint in `region` (the request's: an endpoint is regional; None: the
        clients' own region)."""
        ec2 = self._ec2_for_region(region)

        def on_endpoint(result: Fetched) -> None:
            match result:
                case Present(value=items) if items:
                    for item in items:
                        self.endpoints[str(item["VpcEndpointId"])] = item
                case Unreadable() as refused:
                    self.endpoints[endpoint_id] = refused.to_doc()
                case Present() | Absent():
                    self.endpoints[endpoint_id] = Unreadable(
                        code=ENDPOINT_NOT_FOUND, needs="ec2:DescribeVpcEndpoints"
                    ).to_doc()

        self._plan.read(
            Read(
                key=("ec2:DescribeVpcEndpoints", endpoint_id),
                call=lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])[
                    "VpcEndpoints"
                ],
                needs="ec2:DescribeVpcEndpoints",
                what=f"VPC endpoint {endpoint_id}",
            ),
            on_endpoint,
        )
