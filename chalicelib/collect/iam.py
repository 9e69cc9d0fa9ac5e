"""The principal's identity policies, in the shape of `aws iam get-account-authorization-details`.

Restricted to one request's principal: a user with its inline and attached policies, groups
(with theirs) and permissions boundary; a role likewise; nothing for the root user. Every
managed policy carries its default version. A part we were refused is an `$unreadable` marker
in place of that part; a principal that does not exist is left out of the lists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ..arn import parse_arn, role_arn_from_session
from ..model import Json
from .base import Absent, Fetched, Present, Read, ReadPlan, Unreadable

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


def iam_identity(principal_arn: str) -> tuple[str, str, str] | None:
    """("user" | "role", name, ARN) whose policies apply to `principal_arn`; None for root.

    A role session maps to its role (whose path the session ARN does not carry).
    """
    arn = parse_arn(principal_arn)
    if arn is None:
        return None
    if arn.service == "sts":
        role_arn = role_arn_from_session(principal_arn)
        return None if role_arn is None else ("role", role_arn.rsplit("/", 1)[-1], role_arn)
    if arn.service == "iam" and arn.resource_type in ("user", "role"):
        return arn.resource_type, arn.resource_name, principal_arn
    return None


class IamCollector:
    """Reads one or more principals' identity policies into an IAM authorization-details part."""

    permissions: ClassVar[tuple[str, ...]] = (
        "iam:GetUser",
        "iam:ListUserPolicies",
        "iam:GetUserPolicy",
        "iam:ListAttachedUserPolicies",
        "iam:ListGroupsForUser",
        "iam:ListGroupPolicies",
        "iam:GetGroupPolicy",
        "iam:ListAttachedGroupPolicies",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    )

    def __init__(self, iam: IAMClient, plan: ReadPlan) -> None:
        self._iam = iam
        self._plan = plan
        self._users: dict[str, Json] = {}
        self._groups: dict[str, Json] = {}
        self._roles: dict[str, Json] = {}
        self._policies: dict[str, Json] = {}
        self._missing: set[tuple[str, str]] = set()

    def add_principal(self, principal_arn: str) -> None:
        identity = iam_identity(principal_arn)
        if identity is None:
            return
        kind, name, arn = identity
        if kind == "user":
            self._add_user(name, arn)
        else:
            self._add_role(name, arn)

    def document(self) -> Json:
        """The `iam` part of the snapshot, lists sorted for stable output."""

        def present(kind: str, entries: dict[str, Json]) -> list[Json]:
            return [e for n, e in sorted(entries.items()) if (kind, n) not in self._missing]

        return {
            "UserDetailList": present("user", self._users),
            "GroupDetailList": present("group", self._groups),
            "RoleDetailList": present("role", self._roles),
            "Policies": present("policy", self._policies),
        }

    # ------------------------------------------------------------------ users

    def _add_user(self, name: str, arn: str) -> None:
        if name in self._users:
            return
        entry: Json = {
            "UserName": name,
            "Arn": arn,
            "UserPolicyList": [],
            "GroupList": [],
            "AttachedManagedPolicies": [],
        }
        self._users[name] = entry
        iam = self._iam

        on_user = self._on_entity(entry, "user", name, volatile="PasswordLastUsed")
        self._plan.read(
            Read(
                key=("iam:GetUser", name),
                call=lambda: iam.get_user(UserName=name)["User"],
                needs="iam:GetUser",
                what=f"user {name}",
            ),
            on_user,
        )
        self._inline(
            entry,
            "UserPolicyList",
            key=("iam:ListUserPolicies", name),
            list_call=lambda: _all(iam, "list_user_policies", UserName=name)["PolicyNames"],
            list_needs="iam:ListUserPolicies",
            get_call=lambda p: iam.get_user_policy(UserName=name, PolicyName=p),
            get_needs="iam:GetUserPolicy",
            what=f"user {name}",
        )
        self._attached(
            entry,
            key=("iam:ListAttachedUserPolicies", name),
            call=lambda: _all(iam, "list_attached_user_policies", UserName=name),
            needs="iam:ListAttachedUserPolicies",
            what=f"user {name}",
        )

        def on_groups(result: Fetched) -> None:
            match result:
                case Present(value=groups):
                    entry["GroupList"] = sorted(g["GroupName"] for g in groups)
                    for group in groups:
                        self._add_group(group)
                case Absent():
                    self._missing.add(("user", name))
                case Unreadable() as refused:
                    entry["GroupList"] = refused.to_doc()

        self._plan.read(
            Read(
                key=("iam:ListGroupsForUser", name),
                call=lambda: _all(iam, "list_groups_for_user", UserName=name)["Groups"],
                needs="iam:ListGroupsForUser",
                what=f"user {name}",
            ),
            on_groups,
        )

    def _add_group(self, group: Json) -> None:
        name = str(group["GroupName"])
        if name in self._groups:
            return
        entry: Json = {
            "Path": group.get("Path"),
            "GroupName": name,
            "GroupId": group.get("GroupId"),
            "Arn": group.get("Arn"),
            "CreateDate": group.get("CreateDate"),
            "GroupPolicyList": [],
            "AttachedManagedPolicies": [],
        }
        self._groups[name] = entry
        iam = self._iam
        self._inline(
            entry,
            "GroupPolicyList",
            key=("iam:ListGroupPolicies", name),
            list_call=lambda: _all(iam, "list_group_policies", GroupName=name)["PolicyNames"],
            list_needs="iam:ListGroupPolicies",
            get_call=lambda p: iam.get_group_policy(GroupName=name, PolicyName=p),
            get_needs="iam:GetGroupPolicy",
            what=f"group {name}",
        )
        self._attached(
            entry,
            key=("iam:ListAttachedGroupPolicies", name),
            call=lambda: _all(iam, "list_attached_group_policies", GroupName=name),
            needs="iam:ListAttachedGroupPolicies",
            what=f"group {name}",
        )

    def _on_entity(
        self, entry: Json, kind: str, name: str, *, volatile: str
    ) -> Callable[[Fetched], None]:
        """What GetUser / GetRole's answer adds to the entity's entry (`volatile`: left out)."""

        def on_entity(result: Fetched) -> None:
            match result:
                case Present(value=found):
                    entry.update({k: v for k, v in found.items() if k != volatile})
                    self._add_boundary(found.get("PermissionsBoundary"))
                case Absent():
                    self._missing.add((kind, name))
                case Unreadable() as refused:
                    entry["PermissionsBoundary"] = refused.to_doc()
                    entry["Tags"] = refused.to_doc()

        return on_entity

    # ------------------------------------------------------------------ roles

    def _add_role(self, name: str, arn: str) -> None:
        if name in self._roles:
            return
        entry: Json = {
            "RoleName": name,
            "Arn": arn,
            "RolePolicyList": [],
            "AttachedManagedPolicies": [],
        }
        self._roles[name] = entry
        iam = self._iam

        on_role = self._on_entity(entry, "role", name, volatile="RoleLastUsed")
        self._plan.read(
            Read(
                key=("iam:GetRole", name),
                call=lambda: iam.get_role(RoleName=name)["Role"],
                needs="iam:GetRole",
                what=f"role {name}",
            ),
            on_role,
        )
        self._inline(
            entry,
            "RolePolicyList",
            key=("iam:ListRolePolicies", name),
            list_call=lambda: _all(iam, "list_role_policies", RoleName=name)["PolicyNames"],
            list_needs="iam:ListRolePolicies",
            get_call=lambda p: iam.get_role_policy(RoleName=name, PolicyName=p),
            get_needs="iam:GetRolePolicy",
            what=f"role {name}",
        )
        self._attached(
            entry,
            key=("iam:ListAttachedRolePolicies", name),
            call=lambda: _all(iam, "list_attached_role_policies", RoleName=name),
            needs="iam:ListAttachedRolePolicies",
            what=f"role {name}",
        )

    # ------------------------------------------------------------------ policies

    def _inline(
        self,
        entry: Json,
        field: str,
        *,
        key: tuple[str, str],
        list_call: Callable[[], Any],
        list_needs: str,
        get_call: Callable[[str], Any],
        get_needs: str,
        what: str,
    ) -> None:
        """List an identity's inline policy names, then read each into `entry[field]`."""
        found: list[Json] = entry[field]

        def on_names(result: Fetched) -> None:
            match result:
                case Present(value=names):
                    for policy_name in names:
                        self._plan.read(
                            Read(
                                key=(get_needs, key[1], policy_name),
                                call=functools.partial(get_call, policy_name),
                                needs=get_needs,
                                what=f"{what} policy {policy_name}",
                            ),
                            functools.partial(on_policy, policy_name),
                        )
                case Unreadable() as refused:
                    entry[field] = refused.to_doc()
                case Absent():
                    pass

        def on_policy(policy_name: str, result: Fetched) -> None:
            match result:
                case Present(value=policy):
                    found.append(
                        {"PolicyName": policy_name, "PolicyDocument": policy["PolicyDocument"]}
                    )
                    found.sort(key=lambda p: str(p["PolicyName"]))
                case Unreadable() as refused:
                    found.append({"PolicyName": policy_name, "PolicyDocument": refused.to_doc()})
                    found.sort(key=lambda p: str(p["PolicyName"]))
                case Absent():
                    pass  # deleted between the list and the read

        self._plan.read(Read(key=key, call=list_call, needs=list_needs, what=what), on_names)

    def _attached(
        self, entry: Json, *, key: tuple[str, str], call: Any, needs: str, what: str
    ) -> None:
        def on_attached(result: Fetched) -> None:
            match result:
                case Present(value=listing):
                    attached = listing["AttachedPolicies"]
                    entry["AttachedManagedPolicies"] = sorted(
                        attached, key=lambda p: str(p["PolicyArn"])
                    )
                    for policy in attached:
                        self._add_managed_policy(str(policy["PolicyArn"]))
                case Unreadable() as refused:
                    entry["AttachedManagedPolicies"] = refused.to_doc()
                case Absent():
                    pass

        self._plan.read(Read(key=key, call=call, needs=needs, what=what), on_attached)

    def _add_boundary(self, boundary: Json | None) -> None:
        if boundary and boundary.get("PermissionsBoundaryArn"):
            self._add_managed_policy(str(boundary["PermissionsBoundaryArn"]))

    def _add_managed_policy(self, policy_arn: str) -> None:
        if policy_arn in self._policies:
            return
        entry: Json = {"Arn": policy_arn, "PolicyName": policy_arn.rsplit("/", 1)[-1]}
        self._policies[policy_arn] = entry
        iam = self._iam

        def on_policy(result: Fetched) -> None:
            match result:
                case Present(value=policy):
                    entry.update(policy)
                    version = str(policy["DefaultVersionId"])
                    self._plan.read(
                        Read(
                            key=("iam:GetPolicyVersion", policy_arn, version),
                            call=lambda: iam.get_policy_version(
                                PolicyArn=policy_arn, VersionId=version
                            )["PolicyVersion"],
                            needs="iam:GetPolicyVersion",
                            what=f"policy {policy_arn}",
                        ),
                        on_version,
                    )
                case Absent():
                    self._missing.add(("policy", policy_arn))
                case Unreadable() as refused:
                    entry["PolicyVersionList"] = refused.to_doc()

        def on_version(result: Fetched) -> None:
            match result:
                case Present(value=version):
                    entry["PolicyVersionList"] = [version]
                case Absent():
                    self._missing.add(("policy", policy_arn))
                case Unreadable() as refused:
                    entry["PolicyVersionList"] = refused.to_doc()

        self._plan.read(
            Read(
                key=("iam:GetPolicy", policy_arn),
                call=lambda: iam.get_policy(PolicyArn=policy_arn)["Policy"],
                needs="iam:GetPolicy",
                what=f"policy {policy_arn}",
            ),
            on_policy,
        )


def _all(iam: IAMClient, operation: str, **params: Any) -> Json:
    """Every page of a paginated IAM list call, merged."""
    result: Json = iam.get_paginator(operation).paginate(**params).build_full_result()  # type: ignore[call-overload]
    return result
