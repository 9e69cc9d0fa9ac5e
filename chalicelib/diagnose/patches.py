"""Policy patches: where a policy lives in a snapshot document, how to change it, the CLI.

A patch is JSON (it is shown to the user and stored in the finding):
`{"kind": "policy", "policy": <policy id>, "document": <the whole new document>}` for any
policy the engine names by id (`inline:<user|role|group>/<name>/<policy>`, or
`inline:<account>:<user|role|group>/...` in another account's side `accounts.<account>.iam`; a
managed policy ARN, in the IAM of its ARN's account; `bucket-policy:<bucket>`,
`key-policy:<key ARN>`, `vpce-policy:<endpoint id>`);
`{"kind": "ownership", "bucket", "object_ownership"}`; `{"kind": "abac", "bucket", "status"}` (a
general purpose bucket's ABAC status, `Enabled` or `Disabled`: PutBucketAbac); `{"kind":
"key-tag", "key", "tag", "value"}` (a tag put on a KMS key of the snapshot: TagResource, which
replaces the value of a tag of that key); and request-side
changes that the requester makes, not the account: `{"kind": "request", "context": {key:
[values] | null}}` and `{"kind": "session-policy", "document"}`. Pure: documents in, documents
out.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

from ..model import AccessRequest, ContextEntry, InputError, Json, PrincipalType
from ..snapshot import UNREADABLE_KEY, parse_json_document
from .untrusted import command_safe

_INLINE = {
    "user": ("UserDetailList", "UserName", "UserPolicyList"),
    "role": ("RoleDetailList", "RoleName", "RolePolicyList"),
    "group": ("GroupDetailList", "GroupName", "GroupPolicyList"),
}


_QUALIFIED = re.compile(r"^(\d{12}):")


def split_inline(policy_id: str) -> tuple[str | None, str, str, str]:
    """(account or None for the snapshot's own, entity kind, entity name, policy name)."""
    rest = policy_id.removeprefix("inline:")
    account = None
    qualified = _QUALIFIED.match(rest)
    if qualified is not None:
        account, rest = qualified.group(1), rest[qualified.end() :]
    kind, _, rest = rest.partition("/")
    name, _, policy = rest.partition("/")
    return account, kind, name, policy


def policy_account(doc: Mapping[str, Any], policy_id: str) -> str | None:
    """The account whose IAM holds an identity policy: another account's side, when named."""
    if policy_id.startswith("inline:"):
        return split_inline(policy_id)[0]
    if policy_id.startswith("arn:") and ":policy/" in policy_id:
        account = policy_id.split(":")[4]
        sides = doc.get("accounts")
        if account != doc.get("account_id") and isinstance(sides, Mapping) and account in sides:
            return account
    return None


def _iam_of(doc: Mapping[str, Any], account: str | None) -> Any:
    """The `iam` part of the snapshot document, or of another account's side."""
    if account is None:
        return doc.get("iam") or {}
    side = (doc.get("accounts") or {}).get(account) or {}
    return side.get("iam") or {}


def policy_document(doc: Mapping[str, Any], policy_id: str) -> Json | None:
    """The current document of a policy in a snapshot document, parsed; None when absent, or
    an `$unreadable` marker (no document: `raw_policy` tells it from an absent one)."""
    raw = _locate(doc, policy_id)
    if isinstance(raw, Mapping) and UNREADABLE_KEY in raw:
        return None
    parsed = parse_json_document(raw) if raw is not None else None
    return copy.deepcopy(parsed) if isinstance(parsed, dict) else None


def raw_policy(doc: Mapping[str, Any], policy_id: str) -> Any:
    """A policy's document in a snapshot document as stored (text or JSON); None when absent,
    or when a part on its path is an `$unreadable` marker instead of the AWS output."""
    try:
        return _locate(doc, policy_id)
    except (AttributeError, TypeError):
        return None


def _locate(doc: Mapping[str, Any], policy_id: str) -> Any:
    iam = _iam_of(doc, policy_account(doc, policy_id))
    if policy_id.startswith("inline:"):
        _account, kind, name, policy = split_inline(policy_id)
        if kind not in _INLINE:
            return None
        table, name_key, list_key = _INLINE[kind]
        for entity in iam.get(table) or ():
            if entity.get(name_key) == name:
                for item in entity.get(list_key) or ():
                    if item.get("PolicyName") == policy:
                        return item.get("PolicyDocument")
        return None
    if policy_id.startswith("arn:") and ":policy/" in policy_id:
        for item in iam.get("Policies") or ():
            if item.get("Arn") == policy_id:
                for version in item.get("PolicyVersionList") or ():
                    if version.get("IsDefaultVersion"):
                        return version.get("Document")
        return None
    if policy_id.startswith("bucket-policy:"):
        bucket = ((doc.get("s3") or {}).get("buckets") or {}).get(policy_id.partition(":")[2])
        return bucket.get("policy") if isinstance(bucket, Mapping) else None
    if policy_id.startswith("key-policy:"):
        key = ((doc.get("kms") or {}).get("keys") or {}).get(policy_id.partition(":")[2])
        return key.get("policy") if isinstance(key, Mapping) else None
    if policy_id.startswith("vpce-policy:"):
        endpoint = (doc.get("vpc_endpoints") or {}).get(policy_id.partition(":")[2])
        return endpoint.get("PolicyDocument") if isinstance(endpoint, Mapping) else None
    return None


def apply_patch(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> Json:
    """A copy of the snapshot document with an account-side patch applied."""
    out: Json = copy.deepcopy(dict(doc))
    kind = patch.get("kind")
    if kind == "ownership":
        bucket = out["s3"]["buckets"][patch["bucket"]]
        bucket["ownership_controls"] = {"Rules": [{"ObjectOwnership": patch["object_ownership"]}]}
        return out
    if kind == "abac":
        out["s3"]["buckets"][_abac_bucket(doc, patch)]["abac"] = patch["status"]
        return out
    if kind == "key-tag":
        key = _tagged_key(doc, patch)
        out["kms"]["keys"][key]["tags"] = _with_tag(doc["kms"]["keys"][key]["tags"], patch)
        return out
    if kind != "policy":
        raise InputError("patch.kind", f"not an account-side patch: {kind!r}")
    _put(out, str(patch["policy"]), patch["document"])
    return out


def _tagged_key(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> str:
    """The KMS key a key-tag patch tags: a key of the snapshot document whose tags were read."""
    key, tag, value = patch.get("key"), patch.get("tag"), patch.get("value")
    if not isinstance(tag, str) or not tag or not isinstance(value, str):
        raise InputError("patch.tag", f"not a tag: {tag!r} = {value!r}")
    keys = (doc.get("kms") or {}).get("keys")
    entry = keys.get(key) if isinstance(keys, Mapping) and isinstance(key, str) else None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("tags"), list):
        raise InputError("patch.key", f"no KMS key {key!r} with read tags in the snapshot")
    return str(key)


def _with_tag(tags: list[Any], patch: Mapping[str, Any]) -> list[Any]:
    """The key's TagList with the patch's tag put (its value replaced when the key has it)."""
    kept = [t for t in tags if not (isinstance(t, Mapping) and t.get("TagKey") == patch["tag"])]
    return [*kept, {"TagKey": patch["tag"], "TagValue": patch["value"]}]


ABAC_STATUSES = ("Enabled", "Disabled")


def _abac_bucket(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> str:
    """The bucket an ABAC patch changes: a general purpose bucket of the snapshot document."""
    name, status = patch.get("bucket"), patch.get("status")
    if status not in ABAC_STATUSES:
        raise InputError("patch.status", f"not an ABAC status: {status!r}")
    buckets = (doc.get("s3") or {}).get("buckets")
    if not isinstance(name, str) or not isinstance(buckets, Mapping):
        raise InputError("patch.bucket", f"no bucket {name!r} in the snapshot")
    if name.endswith("--x-s3") or not isinstance(buckets.get(name), Mapping):
        raise InputError("patch.bucket", f"no general purpose bucket {name!r} in the snapshot")
    return name


def apply_patch_shared(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> Json:
    """`apply_patch` without the deep copy: the result shares every part of `doc` the patch does
    not change (only the containers on the patched policy's path are copied). Same document,
    same errors; neither `doc` nor the result may be mutated afterwards (verification only).
    """
    out: Json = dict(doc)
    kind = patch.get("kind")
    if kind == "ownership":
        s3 = out["s3"] = dict(out["s3"])
        buckets = s3["buckets"] = dict(s3["buckets"])
        bucket = buckets[patch["bucket"]] = dict(buckets[patch["bucket"]])
        bucket["ownership_controls"] = {"Rules": [{"ObjectOwnership": patch["object_ownership"]}]}
        return out
    if kind == "abac":
        name = _abac_bucket(doc, patch)
        s3 = out["s3"] = dict(out["s3"])
        buckets = s3["buckets"] = dict(s3["buckets"])
        buckets[name] = {**buckets[name], "abac": patch["status"]}
        return out
    if kind == "key-tag":
        key = _tagged_key(doc, patch)
        kms = out["kms"] = dict(out["kms"])
        keys = kms["keys"] = dict(kms["keys"])
        keys[key] = {**keys[key], "tags": _with_tag(keys[key]["tags"], patch)}
        return out
    if kind != "policy":
        raise InputError("patch.kind", f"not an account-side patch: {kind!r}")
    policy_id = str(patch["policy"])
    head, _, name = policy_id.partition(":")
    holder = _iam_holder(out, policy_account(doc, policy_id))
    if policy_id.startswith("inline:") and isinstance(holder.get("iam"), Mapping):
        iam = holder["iam"] = dict(holder["iam"])
        table = _INLINE.get(split_inline(policy_id)[1])
        if table is not None and isinstance(iam.get(table[0]), list):
            iam[table[0]] = [dict(e) if isinstance(e, Mapping) else e for e in iam[table[0]]]
    elif policy_id.startswith("arn:") and ":policy/" in policy_id:
        if isinstance(holder.get("iam"), Mapping):
            iam = holder["iam"] = dict(holder["iam"])
            if isinstance(iam.get("Policies"), list):
                iam["Policies"] = [
                    _versions_copied(p)
                    if isinstance(p, Mapping) and p.get("Arn") == policy_id
                    else p
                    for p in iam["Policies"]
                ]
    elif head in ("bucket-policy", "key-policy"):
        section, table_name = ("s3", "buckets") if head == "bucket-policy" else ("kms", "keys")
        part = out[section] = dict(out[section])
        entries = part[table_name] = dict(part[table_name])
        entries[name] = dict(entries[name])
    elif head == "vpce-policy":
        endpoints = out["vpc_endpoints"] = dict(out["vpc_endpoints"])
        endpoints[name] = dict(endpoints[name])
    _put(out, policy_id, patch["document"])
    return out


def _versions_copied(item: Mapping[str, Any]) -> Json:
    """A managed policy's entry with what `_put` changes copied: the entry and each version
    (their documents, which `_put` never changes, are shared)."""
    out: Json = dict(item)
    versions = out.get("PolicyVersionList")
    if isinstance(versions, list):
        out["PolicyVersionList"] = [dict(v) if isinstance(v, dict) else v for v in versions]
    return out


def _iam_holder(out: Json, account: str | None) -> Json:
    """The mapping that holds `iam` in the (shallow-copied) document: the top level, or the
    side of `account`, copied on the way so the original document is left unchanged."""
    sides = out.get("accounts")
    if (
        account is None
        or not isinstance(sides, Mapping)
        or not isinstance(sides.get(account), Mapping)
    ):
        return out if account is None else {}
    sides = out["accounts"] = dict(sides)
    side: Json = dict(sides[account])
    sides[account] = side
    return side


def _put(out: Json, policy_id: str, document: Json) -> None:
    account = policy_account(out, policy_id)
    iam = out.setdefault("iam", {})
    if account is not None:
        side = (out.get("accounts") or {}).get(account)
        iam = side.get("iam") if isinstance(side, Mapping) else None
        if not isinstance(iam, dict) or "$unreadable" in iam:
            raise InputError("patch.policy", f"the IAM of account {account} is not in the snapshot")
    if policy_id.startswith("inline:"):
        _account, kind, name, policy = split_inline(policy_id)
        if kind not in _INLINE:
            raise InputError("patch.policy", f"cannot patch policy {policy_id!r}")
        table, name_key, list_key = _INLINE[kind]
        for entity in _listed(iam.get(table)):
            if entity.get(name_key) == name:
                items = [p for p in _listed(entity.get(list_key)) if p.get("PolicyName") != policy]
                entity[list_key] = [*items, {"PolicyName": policy, "PolicyDocument": document}]
                return
        raise InputError("patch.policy", f"no IAM {kind} named {name!r} in the snapshot")
    if policy_id.startswith("arn:") and ":policy/" in policy_id:
        for item in _listed(iam.get("Policies")):
            if item.get("Arn") == policy_id:
                versions = list(_listed(item.get("PolicyVersionList")))
                number = 1 + max((_version_number(v.get("VersionId")) for v in versions), default=0)
                for version in versions:
                    version["IsDefaultVersion"] = False
                new_id = f"v{number}"
                versions.append(
                    {"VersionId": new_id, "IsDefaultVersion": True, "Document": document}
                )
                item["PolicyVersionList"] = versions
                item["DefaultVersionId"] = new_id
                return
        raise InputError("patch.policy", f"managed policy {policy_id} is not in the snapshot")
    head, _, name = policy_id.partition(":")
    if head == "bucket-policy":
        out["s3"]["buckets"][name]["policy"] = document
    elif head == "key-policy":
        out["kms"]["keys"][name]["policy"] = document
    elif head == "vpce-policy":
        out["vpc_endpoints"][name]["PolicyDocument"] = document
    else:
        raise InputError("patch.policy", f"cannot patch policy {policy_id!r}")


def _listed(value: Any) -> list[dict[str, Any]]:
    """The objects of an AWS list in the snapshot; none when the list is not there or is an
    `$unreadable` marker (a patch then finds nothing to change: an InputError, not a crash)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _version_number(version_id: Any) -> int:
    text = str(version_id or "").lstrip("v")
    return int(text) if text.isdigit() else 0


def apply_to_request(request: AccessRequest, patch: Mapping[str, Any]) -> AccessRequest:
    """The request as the requester would send it after a request-side patch."""
    if patch.get("kind") == "session-policy":
        return replace(request, session_policy=dict(patch["document"]))
    changes: Mapping[str, list[str] | None] = patch.get("context") or {}
    lowered = {k.lower(): v for k, v in changes.items()}
    kept = [e for e in request.context if e.name.lower() not in lowered]
    for name, values in changes.items():
        if values is not None:
            kept.append(patched_entry(request, name, values))
    return request.with_context(tuple(kept))


def patched_entry(request: AccessRequest, name: str, values: Iterable[str]) -> ContextEntry:
    """The entry a request-side patch gives the request: `values` of `name`, of the type of the
    request's entry of that name (a string when it has none)."""
    previous = next((e for e in request.context if e.name.lower() == name.lower()), None)
    return ContextEntry(
        name=name,
        values=tuple(values),
        type=previous.type if previous else "string",
        source="remedy",
    )


def one_entry(request: AccessRequest, patch: Mapping[str, Any]) -> ContextEntry | None:
    """The entry of a request-side patch that gives one key values and changes nothing else
    (`patched_entry`); None for any other patch."""
    changes = patch.get("context")
    if patch.get("kind") != "request" or not isinstance(changes, Mapping) or len(changes) != 1:
        return None
    ((name, values),) = changes.items()
    if not isinstance(name, str) or not isinstance(values, list):
        return None
    return patched_entry(request, name, values)


NO_COMMAND = "no command: its arguments contain control characters; apply the patch by hand"


def document_text(document: Any) -> str:
    """A policy document as a command's JSON argument: compact, keys sorted (the text of the
    document inside `remedies`' canonical key of its patch)."""
    return COMPACT.encode(document)


COMPACT: Final = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
"""`json.dumps(..., separators=(",", ":"), sort_keys=True)`, its encoder made once."""


def cli_for(
    patch: Mapping[str, Any], request: AccessRequest, *, text: str | None = None
) -> str | None:
    """The `aws` CLI command that applies an account-side or session-policy patch.

    Built as an argument list and quoted for a POSIX shell with `shlex.join`; None when there is
    no command, or when an argument holds a control, format or line-separator character (see
    `untrusted`): such a command cannot be shown safely, so the patch is applied by hand.
    """
    argv = argv_for(patch, request, text=text)
    if argv is None or not all(command_safe(arg) for arg in argv):
        return None
    return shlex.join(argv)


def argv_for(
    patch: Mapping[str, Any], request: AccessRequest, *, text: str | None = None
) -> list[str] | None:
    """The `aws` command that applies a patch, as an argument list; None when there is none.
    `text`: the `document_text` of the patch's document, when the caller has it."""
    kind = patch.get("kind")
    if kind == "ownership":
        rules = f"Rules=[{{ObjectOwnership={patch['object_ownership']}}}]"
        return ["aws", "s3api", "put-bucket-ownership-controls", "--bucket", str(patch["bucket"]),
                "--ownership-controls", rules]  # fmt: skip
    if kind == "key-tag":
        tags = json.dumps([{"TagKey": patch["tag"], "TagValue": patch["value"]}])
        return ["aws", "kms", "tag-resource", "--key-id", str(patch["key"]), "--tags", tags]
    if kind == "abac":
        return ["aws", "s3api", "put-bucket-abac", "--bucket", str(patch["bucket"]),
                "--abac-status", f"Status={patch['status']}"]  # fmt: skip
    if kind == "session-policy" and request.principal.type in (
        PrincipalType.IAM_USER,
        PrincipalType.FEDERATED_USER,
    ):
        # A user's session policy comes from GetFederationToken (called with the user's own
        # long-term credentials); AssumeRole takes roles only.
        name = request.principal.session_name or "<federated-user-name>"
        return ["aws", "sts", "get-federation-token", "--name", name,
                "--policy", text or document_text(patch["document"])]  # fmt: skip
    if kind == "session-policy":
        role, session = request.principal.principal_arn, request.principal.session_name
        return ["aws", "sts", "assume-role", "--role-arn", role, "--role-session-name",
                session or "<session-name>", "--policy",
                text or document_text(patch["document"])]  # fmt: skip
    if kind != "policy":
        return None
    policy_id = str(patch["policy"])
    doc = text or document_text(patch["document"])
    if policy_id.startswith("inline:"):
        _account, entity, name, policy = split_inline(policy_id)
        if entity not in _INLINE:
            return None
        return ["aws", "iam", f"put-{entity}-policy", f"--{entity}-name", name,
                "--policy-name", policy, "--policy-document", doc]  # fmt: skip
    if policy_id.startswith("arn:"):
        return ["aws", "iam", "create-policy-version", "--policy-arn", policy_id,
                "--set-as-default", "--policy-document", doc]  # fmt: skip
    head, _, name = policy_id.partition(":")
    if head == "bucket-policy":
        return ["aws", "s3api", "put-bucket-policy", "--bucket", name, "--policy", doc]
    if head == "key-policy":
        return ["aws", "kms", "put-key-policy", "--key-id", name, "--policy-name", "default",
                "--policy", doc]  # fmt: skip
    if head == "vpce-policy":
        return ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", name,
                "--policy-document", doc]  # fmt: skip
    return None
