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

from ..model import Json
from .base import (
    UNREADABLE_KEY,
    Absent,
    Fetched,
    Present,
    Read,
    ReadPlan,
    Unreadable,
)

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

    from .clients import Boto3Clients

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
        self._org: OrganizationsClient | None = None  # set once credentials are known
        self._result: Json | None = None  # a marker, or None while walking / not in an org
        self._in_org = True
        self._management_account_id: str | None = None
        self._org_id: str | None = None
        self._enabled: set[str] | None = None
        self._parents: dict[str, str] = {}  # child -> parent, up to the root
        self._listed: set[str] = set()
        self._policies: dict[tuple[str, str], list[Json] | Json] = {}

    def start(self) -> None:
        """Schedule what needs no account id: assuming the role, or DescribeOrganization."""
        if self._role_arn is None:
            self._start_without_role()
            return
        role_arn = self._role_arn
        sts = self._clients.sts()

        def on_credentials(result: Fetched) -> None:
            match result:
                case Present(value=credentials):
                    self._org = self._assumed_clients(credentials).organizations()
                    self._walk_when_ready()
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

    def add_account(self, account_id: str) -> None:
        """Walk `account_id`'s organization path once the organization can be read."""
        self._account_id = account_id
        self._walk_when_ready()

    def _start_without_role(self) -> None:
        """Only the management account reads its organization itself; member accounts are not
        sent calls they would be refused."""
        org = self._clients.organizations()

        def on_organization(result: Fetched) -> None:
            match result:
                case Present(value=organization):
                    self._remember(organization)
                    self._org = org
                    self._walk_when_ready()
                case Absent():
                    self._in_org = False
                case Unreadable():
                    self._result = NOT_CONFIGURED

        self._describe_organization(org, on_organization)

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

    def _remember(self, organization: Json) -> None:
        self._management_account_id = organization.get("MasterAccountId")
        self._org_id = organization.get("Id")

    def _describe_organization(
        self, org: OrganizationsClient, then: Callable[[Fetched], None]
    ) -> None:
        self._read(
            org,
            "organizations:DescribeOrganization",
            (),
            lambda: org.describe_organization()["Organization"],
            then,
        )

    def _walk_when_ready(self) -> None:
        """Start the walk once both the account id and the organization client are known.

        The root comes from ListRoots, so its policies are listed without climbing to it.
        """
        org = self._org
        if org is None or not self._account_id or self._result is not None:
            return
        if self._role_arn is None:
            if self._management_account_id != self._account_id:
                self._result = NOT_CONFIGURED
                return
        else:

            def on_organization(result: Fetched) -> None:
                match result:
                    case Present(value=organization):
                        self._remember(organization)
                    case Absent():
                        self._in_org = False
                    case Unreadable():
                        pass  # the walk below still reads the policies

            self._describe_organization(org, on_organization)

        def on_roots(result: Fetched) -> None:
            match result:
                case Present(value=roots):
                    self._enabled = {
                        t["Type"]
                        for root in roots
                        for t in root.get("PolicyTypes", ())
                        if t.get("Status") == "ENABLED"
                    }
                    for root in roots:
                        self._list_all_policies(org, str(root["Id"]))
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

    def _list_all_policies(self, org: OrganizationsClient, target: str) -> None:
        if target in self._listed:
            return
        self._listed.add(target)
        for policy_type in POLICY_TYPES:
            self._list_policies(org, target, policy_type)

    def _climb(self, org: OrganizationsClient, target: str) -> None:
        """List `target`'s policies and go up to its parent, until the root."""
        self._list_all_policies(org, target)

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
