"""SCPs and RCPs along the account's organization path (root first, account last).

A member account cannot read its own SCPs or RCPs: that needs the management account or a
delegated administrator, reached through `ORG_READ_ROLE_ARN` (assumed with STS). Without it the
part is `{"$unreadable": "NotConfigured", ...}`, unless this is the management account (which
reads them itself) or the account is in no organization (the part is then left out: no SCP or
RCP applies). A list left out of a level means that policy type is not enabled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from chalicelib.collect.base import (
    UNREADABLE_KEY,
    Absent,
    Fetched,
    Present,
    Read,
    ReadPlan,
    Unreadable,
)
from chalicelib.model import Json

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

    from chalicelib.collect.clients import Boto3Clients

POLICY_TYPES = {"SERVICE_CONTROL_POLICY": "scps", "RESOURCE_CONTROL_POLICY": "rcps"}
NOT_CONFIGURED: Json = {
    UNREADABLE_KEY: "NotConfigured",
    "needs": "organizations:ListPoliciesForTarget (set ORG_READ_ROLE_ARN)",
}


class OrganizationCollector:
    """Reads the SCPs and RCPs that apply to one account."""

    permissions: ClassVar[tuple[str, ...]] = (
        "sts:AssumeRole",
        "organizations:DescribeOrganization",
        "organizations:ListRoots",
        "organizations:ListParents",
        "organizations:ListPoliciesForTarget",
        "organizations:DescribePolicy",
    )

    def __init__(
        self,
        clients: Boto3Clients,
        plan: ReadPlan,
        *,
        org_read_role_arn: str | None,
        assumed_clients: Callable[[Json], Boto3Clients],
    ) -> None:
        self._clients = clients
        self._plan = plan
        self._role_arn = org_read_role_arn
        self._assumed_clients = assumed_clients
        self._account_id = ""
        self._org: OrganizationsClient | None = None
        self._result: Json | None = None  # a marker, or None while walking / not in an org
        self._in_org = True
        self._management_account_id: str | None = None
        self._org_id: str | None = None
        self._enabled: set[str] | None = None
        self._parents: dict[str, str] = {}  # child -> parent, up to the root
        self._root_id: str | None = None
        self._policies: dict[tuple[str, str], list[Json] | Json] = {}

    def add_account(self, account_id: str) -> None:
        self._account_id = account_id
        if self._role_arn is None:
            self._describe(self._clients.organizations(), own=True)
            return
        role_arn = self._role_arn
        sts = self._clients.sts()

        def on_credentials(result: Fetched) -> None:
            match result:
                case Present(value=credentials):
                    self._describe(self._assumed_clients(credentials).organizations(), own=False)
                case Absent() | Unreadable():
                    code = result.code
                    self._result = {UNREADABLE_KEY: code, "needs": f"sts:AssumeRole on {role_arn}"}

        self._plan.read(
            Read(
                key=("sts:AssumeRole", role_arn),
                call=lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="s3-403-doctor")[
                    "Credentials"
                ],
                needs="sts:AssumeRole",
                what=f"role {role_arn}",
            ),
            on_credentials,
        )

    def document(self) -> Json | None:
        """The `organization` part; None when the account is in no organization."""
        if self._result is not None:
            return self._result
        if not self._in_org:
            return None
        chain = [self._account_id]
        while chain[-1] in self._parents:
            chain.append(self._parents[chain[-1]])
        levels = []
        for target in reversed(chain):
            level: Json = {"target_id": target}
            for policy_type, field in POLICY_TYPES.items():
                if self._enabled is not None and policy_type not in self._enabled:
                    continue
                policies = self._policies.get((target, policy_type))
                if policies is not None:
                    level[field] = policies
            levels.append(level)
        return {
            "management_account_id": self._management_account_id,
            "org_id": self._org_id,
            "levels": levels,
        }

    def _describe(self, org: OrganizationsClient, *, own: bool) -> None:
        def on_organization(result: Fetched) -> None:
            match result:
                case Present(value=organization):
                    self._management_account_id = str(organization.get("MasterAccountId", ""))
                    self._org_id = organization.get("Id")
                    if own and self._management_account_id != self._account_id:
                        self._result = NOT_CONFIGURED
                    else:
                        self._walk(org)
                case Absent():
                    self._in_org = False
                case Unreadable() as refused:
                    self._result = NOT_CONFIGURED if own else refused.to_doc()

        self._read(
            org,
            "organizations:DescribeOrganization",
            (),
            lambda: org.describe_organization()["Organization"],
            on_organization,
        )

    def _walk(self, org: OrganizationsClient) -> None:
        def on_roots(result: Fetched) -> None:
            match result:
                case Present(value=roots):
                    self._enabled = {
                        t["Type"]
                        for root in roots
                        for t in root.get("PolicyTypes", ())
                        if t.get("Status") == "ENABLED"
                    }
                case Absent() | Unreadable():
                    pass  # list every type; a type that is not enabled answers as absent

        self._read(
            org,
            "organizations:ListRoots",
            (),
            lambda: org.get_paginator("list_roots").paginate().build_full_result()["Roots"],
            on_roots,
        )
        self._climb(org, self._account_id)

    def _climb(self, org: OrganizationsClient, target: str) -> None:
        """List `target`'s policies and go up to its parent, until the root."""
        for policy_type in POLICY_TYPES:
            self._list_policies(org, target, policy_type)

        def on_parents(result: Fetched) -> None:
            match result:
                case Present(value=parents):
                    parent = parents[0]
                    self._parents[target] = str(parent["Id"])
                    self._climb(org, str(parent["Id"]))
                case Absent() | Unreadable():
                    self._result = {
                        UNREADABLE_KEY: result.code,
                        "needs": "organizations:ListParents",
                    }

        if not target.startswith("r-"):  # a root has no parent
            self._read(
                org,
                "organizations:ListParents",
                (target,),
                lambda: (
                    org.get_paginator("list_parents")
                    .paginate(ChildId=target)
                    .build_full_result()["Parents"]
                ),
                on_parents,
            )

    def _list_policies(self, org: OrganizationsClient, target: str, policy_type: str) -> None:
        found: list[Json] = []

        def on_list(result: Fetched) -> None:
            match result:
                case Present(value=summaries):
                    self._policies[(target, policy_type)] = found
                    for summary in summaries:
                        self._describe_policy(org, summary, found)
                case Unreadable() as refused:
                    self._policies[(target, policy_type)] = refused.to_doc()
                case Absent():
                    pass

        self._read(
            org,
            "organizations:ListPoliciesForTarget",
            (target, policy_type),
            lambda: (
                org.get_paginator("list_policies_for_target")
                .paginate(TargetId=target, Filter=policy_type)  # type: ignore[arg-type]
                .build_full_result()["Policies"]
            ),
            on_list,
        )

    def _describe_policy(self, org: OrganizationsClient, summary: Json, found: list[Json]) -> None:
        policy_id = str(summary["Id"])
        entry: Json = {"Id": policy_id, "Name": summary.get("Name"), "Arn": summary.get("Arn")}
        found.append(entry)
        found.sort(key=lambda p: str(p["Id"]))

        def on_policy(result: Fetched) -> None:
            match result:
                case Present(value=policy):
                    entry["Content"] = policy["Content"]
                case Absent():
                    found.remove(entry)
                case Unreadable() as refused:
                    entry["Content"] = refused.to_doc()

        self._read(
            org,
            "organizations:DescribePolicy",
            (policy_id,),
            lambda: org.describe_policy(PolicyId=policy_id)["Policy"],
            on_policy,
        )

    def _read(
        self,
        org: OrganizationsClient,
        needs: str,
        params: tuple[str, ...],
        call: Callable[[], Any],
        then: Callable[[Fetched], None],
    ) -> None:
        key = (needs, self._role_arn or "", *params)
        self._plan.read(Read(key=key, call=call, needs=needs, what=f"organization {params}"), then)
