"""The KMS leg of an SSE-KMS request: which key, which action, which context, which grants.

S3 calls KMS with the requester's credentials (forward access): `kms:Decrypt` for reads,
`kms:GenerateDataKey` for writes, `kms:Decrypt` for a multipart upload's parts and completion
(its data key is the one CreateMultipartUpload made). That call
is its own authorization against the key policy (root delegation makes identity policies count),
grants, identity policies, boundaries, SCPs and RCPs (not for AWS managed keys). Its context is
S3's, not the client's: `aws:ViaAWSService` is true and the network keys are absent, and
`aws:ResourceTag/<key>` is each of the KMS key's own tags (KMS ABAC); tags not read while a
policy of the call names that key leave the key-policy layer unchecked.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html ·
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html ·
https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html ·
https://docs.aws.amazon.com/kms/latest/developerguide/abac.html ·
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-viaawsservice
Pure: no boto3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import field, replace
from typing import Any

from ..arn import parse_arn
from ..lean_dataclass import dataclass
from ..model import AccessRequest, Layer, Operation, StatementRef, Unchecked
from ..snapshot import AccountSide, KmsKey, Organization, Snapshot, Unreadable
from .context import RequestContext
from .evidence import (
    PolicySource,
    compiled_source,
    kept_evidence,
    problem_source,
    unchecked_for,
)
from .hits import Hits
from .policy import PolicyKind
from .resolve import organization_keys
from .s3rules import S3Facts, s3_facts

OBJECT_READS_DISABLED = "ObjectReadsDisabled"  # the collector's marker (READ_OBJECTS=false)
NETWORK_KEYS = (
    "aws:SourceIp",
    "aws:SourceVpce",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
)
# Keys of the S3 request that a KMS request does not carry: S3's own (`s3:`), and the tags of
# the S3 request and of its bucket (on a KMS request `aws:ResourceTag` is the key's).
_S3_ONLY_PREFIXES = ("s3:", "aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")
_NOT_CARRIED = frozenset(key.lower() for key in NETWORK_KEYS)


def carried_to_kms(key: str) -> bool:
    """Whether a context key of the S3 request reaches S3's call to KMS (`leg_context`)."""
    lowered = key.lower()
    return lowered not in _NOT_CARRIED and not lowered.startswith(_S3_ONLY_PREFIXES)


WRITE_ACTIONS = frozenset({"s3:putobject"})
KEY_TAG_PREFIX = "aws:ResourceTag/"
_KEY_TAG_LOWER = KEY_TAG_PREFIX.lower()


@dataclass(slots=True)
class KmsLeg:
    action: str
    key_arn: str
    object_arn: str
    bucket_key: bool = False
    aws_managed: bool = False
    region: str | None = None  # where S3 calls KMS: the bucket's region
    grants_unreadable: Unchecked | None = None
    key_policy: tuple[PolicySource, ...] = ()
    grants: tuple[Mapping[str, Any], ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)  # the key's: aws:ResourceTag/<key>
    details: dict[Layer, str] = field(default_factory=dict)
    blocks: list[tuple[Layer, str, tuple[StatementRef, ...]]] = field(default_factory=list)
    # The key is not Enabled: KMS answers DisabledException or KMSInvalidStateException, not
    # AccessDenied (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html).
    key_state: str | None = None
    skip_reason: str | None = None
    # Set when the object's head could not be read: the key is the bucket default's, assumed.
    assumed: Unchecked | None = None


def kms_legs(
    request: AccessRequest, snapshot: Snapshot, op: Operation, facts: S3Facts
) -> list[KmsLeg]:
    """One leg per KMS action the operation needs, when the object is SSE-KMS encrypted."""
    if not op.kms_actions or op.key is None:
        return []
    header = request.context_value("s3:x-amz-server-side-encryption-aws-kms-key-id")
    given = request.kms_key_arn
    if given is not None and op.role == "source" and header and given in header:
        given = None  # a copy's key header names its destination's key, not its source's
    key_id, bucket_key, why = _key_for(request, op, facts, header, given)
    head = unreadable_head(op, facts)
    assumed = None
    if head is not None and given is None:
        assumed = _assumed(op, head, key_id)
        if key_id is None:
            why = (
                f"the head of {_where(op)} could not be read ({head.code}): the object's "
                "encryption is unknown, and the bucket default encryption names no customer "
                f"managed KMS key{f' ({why})' if why else ''}: no KMS key was checked"
            )
    if key_id is None:
        # No customer managed key to check; `why` says so when it is worth telling.
        action = op.kms_actions[0]
        skipped = KmsLeg(action=action, key_arn="", object_arn=op.resource_arn, skip_reason=why)
        return [skipped] if why else []
    key_id = resolve_alias(key_id, request, snapshot, facts)
    legs = []
    for action in op.kms_actions:
        leg = KmsLeg(
            action=action,
            key_arn=key_id,
            object_arn=op.resource_arn,
            bucket_key=bucket_key,
            region=_region(key_id, facts, snapshot),
            assumed=assumed,
        )
        _load_key(leg, snapshot, request)
        legs.append(leg)
    return legs


def resolve_alias(key_id: str, request: AccessRequest, snapshot: Snapshot, facts: S3Facts) -> str:
    """The key ARN an alias names, through the snapshot's `kms.aliases`; `key_id` itself when it
    is no alias or the map does not hold it. S3 calls KMS with the requester's credentials in
    the bucket's region, so a bare `alias/name` is the requester's account's there (as a bare
    default-encryption alias is: "S3 will resolve the key within the requester's account",
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ServerSideEncryptionByDefault.html)."""
    if key_id.startswith("alias/"):
        account = request.principal.account_id
        region = _region(key_id, facts, snapshot)
        if not account or not region:
            return key_id
        alias_arn = f"arn:{snapshot.partition}:kms:{region}:{account}:{key_id}"
    else:
        alias_arn = key_id
    return snapshot.kms_aliases.get(alias_arn, key_id)


def _region(key_id: str, facts: S3Facts, snapshot: Snapshot) -> str | None:
    """The region of the KMS call: the key's (same as the bucket's for SSE-KMS)."""
    arn = parse_arn(key_id)
    if arn is not None and arn.region:
        return arn.region
    if facts.bucket is not None and facts.bucket.region:
        return facts.bucket.region
    return snapshot.region


def _key_for(
    request: AccessRequest,
    op: Operation,
    facts: S3Facts,
    ctx_key: tuple[str, ...] | None,
    given: str | None,
) -> tuple[str | None, bool, str | None]:
    """(key id, bucket key enabled, note) for the operation's object; `ctx_key`: the SSE-KMS
    key header, `given`: the request's KMS key when it may be this operation's."""
    if op.action.lower() in WRITE_ACTIONS:
        ctx_sse = request.context_value("s3:x-amz-server-side-encryption")
        bucket_key_header = request.context_value(
            "s3:x-amz-server-side-encryption-bucket-key-enabled"
        )
        key = given or (ctx_key[0] if ctx_key else None)
        if key:
            if bucket_key_header:
                return key, bucket_key_header[0].lower() == "true", None
            return key, _bucket_key_enabled(facts), None
        if ctx_sse and ctx_sse[0].startswith("aws:kms"):
            return None, False, "SSE-KMS with the AWS managed key aws/s3: no key policy to check"
        if ctx_sse:
            return None, False, None  # AES256 asked explicitly: no KMS call
        return _bucket_default_key(facts)
    head = facts.obj.head if facts.obj is not None else None
    if isinstance(head, Mapping):
        encryption = str(head.get("ServerSideEncryption", ""))
        if not encryption.startswith("aws:kms"):  # S3 calls KMS for an SSE-KMS object only
            why = None
            if given is not None:
                why = (
                    f"the head of {_where(op)} says it is not SSE-KMS encrypted "
                    f"({encryption or 'no ServerSideEncryption'}): S3 reads it without KMS, "
                    f"so {given} was not checked for it"
                )
            return None, False, why
        key = head.get("SSEKMSKeyId")
        if key:
            return str(key), bool(head.get("BucketKeyEnabled")), None
    if given is not None:
        return given, False, None
    if isinstance(head, Unreadable):
        # Unreadable is never absent: the object's encryption is unknown, and the bucket
        # default encryption says which key it most likely uses (DESIGN 2, issue 11.2).
        return _bucket_default_key(facts)
    return None, False, None


def unreadable_head(op: Operation, facts: S3Facts) -> Unreadable | None:
    """The marker of the object's head when it could not be read (reads only)."""
    if op.action.lower() in WRITE_ACTIONS or facts.obj is None:
        return None
    head = facts.obj.head
    return head if isinstance(head, Unreadable) else None


def _where(op: Operation) -> str:
    return f"s3://{op.bucket}/{op.key}"


def _assumed(op: Operation, head: Unreadable, key_id: str | None) -> Unchecked:
    """What the KMS leg of an object whose head could not be read rests on."""
    if head.code == OBJECT_READS_DISABLED:
        why = (
            "Object reads are disabled by configuration (READ_OBJECTS=false): the head of "
            f"{_where(op)} was not read"
        )
        needs = f"READ_OBJECTS=true and {head.needs or 's3:GetObject'} (HeadObject)"
    else:
        why = f"the head of {_where(op)} could not be read ({head.code})"
        needs = f"{head.needs or 's3:GetObject'} (HeadObject)"
    what = (
        f"its encryption is assumed to be the bucket default: the KMS key {key_id}, assumed "
        "from the bucket default encryption, is checked, and a key set on the object is not"
        if key_id
        else "no KMS key was checked"
    )
    return Unchecked(
        layer=Layer.KMS_KEY_POLICY,
        reason=f"{why}: whether the object is SSE-KMS encrypted, and with which key, is unknown; "
        f"{what}",
        needs=needs,
    )


def _bucket_key_enabled(facts: S3Facts) -> bool:
    """The bucket's S3 Bucket Key setting, which S3 applies to an SSE-KMS write that sends no
    `x-amz-server-side-encryption-bucket-key-enabled` header.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key-object.html"""
    bucket = facts.bucket
    if bucket is None or not isinstance(bucket.encryption, Mapping):
        return False
    return any(rule.get("BucketKeyEnabled") for rule in bucket.encryption.get("Rules") or ())


def _bucket_default_key(facts: S3Facts) -> tuple[str | None, bool, str | None]:
    bucket = facts.bucket
    if bucket is None or bucket.encryption is None:
        return None, False, None
    if isinstance(bucket.encryption, Unreadable):
        return (
            None,
            False,
            (
                f"default encryption of {bucket.name} could not be read "
                f"({bucket.encryption.code}): whether the write needs KMS is unknown"
            ),
        )
    rules = bucket.encryption.get("Rules") or ()
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
            key = default.get("KMSMasterKeyID")
            if not key:
                return None, False, "default encryption uses the AWS managed key aws/s3"
            return str(key), bool(rule.get("BucketKeyEnabled")), None
    return None, False, None


def key_account(key_id: str, snapshot: Snapshot) -> str:
    """The account of a KMS key: its ARN's (a bare key id or alias is the bucket account's)."""
    arn = parse_arn(key_id)
    return arn.account if arn is not None and arn.account else snapshot.account_id


def _load_key(leg: KmsLeg, snapshot: Snapshot, request: AccessRequest) -> None:
    account = key_account(leg.key_arn, snapshot)
    if account != snapshot.account_id and snapshot.side(account) is None:
        # Without the key's account in the snapshot, its policy is not judged.
        leg.skip_reason = (
            f"the KMS key {leg.key_arn} belongs to account {account}: its key policy is "
            "outside this account and was not checked"
        )
        return
    key = snapshot.kms_key(leg.key_arn)
    policy_id = f"key-policy:{leg.key_arn}"
    if isinstance(key, Unreadable):
        problem = unchecked_for(Layer.KMS_KEY_POLICY, key, f"KMS key {leg.key_arn}")
        leg.key_policy = (problem_source(snapshot, policy_id, problem),)
        return
    if key is None:
        problem = Unchecked(
            layer=Layer.KMS_KEY_POLICY,
            reason=f"KMS key {leg.key_arn} is not in the snapshot",
            needs="kms:GetKeyPolicy",
        )
        leg.key_policy = (problem_source(snapshot, policy_id, problem),)
        return
    leg.key_arn = key.arn
    policy_id = f"key-policy:{key.arn}"
    metadata = key.metadata if isinstance(key.metadata, Mapping) else {}
    if aws_managed(key):
        # Judged by aws/s3's key policy, which AWS keeps: explicit denies of the caller's
        # identity, boundary, session policy and SCPs still apply; RCPs do not.
        leg.aws_managed = True
        if request.principal.account_id != account:
            leg.blocks.append((Layer.KMS_KEY_POLICY, aws_managed_key_refuses(key.arn, account), ()))
            return
        document = _aws_s3_key_policy(account, leg.region or snapshot.region)
        leg.key_policy = (
            compiled_source(
                snapshot, Layer.KMS_KEY_POLICY, policy_id, document, PolicyKind.KEY_POLICY
            ),
        )
        return
    state = metadata.get("KeyState")
    if state and state != "Enabled":
        leg.key_state = f"the KMS key {key.arn} is {state}, not Enabled"
    if key.policy is None:
        leg.key_policy = ()
    else:
        leg.key_policy = (
            compiled_source(
                snapshot, Layer.KMS_KEY_POLICY, policy_id, key.policy, PolicyKind.KEY_POLICY
            ),
        )
    if isinstance(key.grants, Unreadable):
        leg.grants_unreadable = unchecked_for(Layer.KMS_GRANT, key.grants, f"grants of {key.arn}")
    else:
        leg.grants = key.grants
    if not isinstance(key.tags, Unreadable):
        leg.tags = key.tags
    elif _names_key_tag(leg, snapshot, request):
        found = unchecked_for(Layer.KMS_KEY_POLICY, key.tags, f"the tags of KMS key {key.arn}")
        problem = replace(
            found,
            reason=f"{found.reason}: aws:ResourceTag/<key> of S3's call to KMS (the key's "
            "tags, KMS ABAC) was not checked, and a policy of that call names it",
        )
        leg.key_policy += (problem_source(snapshot, f"key-tags:{key.arn}", problem),)


def aws_managed(key: KmsKey) -> bool:
    """Whether the key is an AWS managed key (for S3: aws/s3), as its metadata says."""
    return isinstance(key.metadata, Mapping) and key.metadata.get("KeyManager") == "AWS"


def _aws_s3_key_policy(account: str, region: str | None) -> dict[str, Any]:
    """The key policy of aws/s3: any principal of its account, through S3 only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AwsManagedKeyThroughS3",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"s3.{region}.amazonaws.com",
                    }
                },
            }
        ],
    }


def aws_managed_key_refuses(key_arn: str, account: str) -> str:
    """Why the AWS managed key aws/s3 refuses a requester of another account."""
    return (
        f"the KMS key {key_arn} is the AWS managed key aws/s3 of account {account}: its key "
        "policy, which "
        "AWS keeps and no one can change, allows only callers of that account through S3; "
        "access from another account needs a customer managed key"
    )


def _names_key_tag(leg: KmsLeg, snapshot: Snapshot, request: AccessRequest) -> bool:
    """Whether a policy that takes part in the KMS call names `aws:ResourceTag`: a statement of
    the key policy, the requester's identity policies or boundary that covers the leg's action,
    or (coarsely, by their text) a session policy, an SCP or an RCP."""
    given = (request.session_policy, *request.scp_policies)
    if any(_names(doc) for doc in given if doc):
        return True
    principal = request.principal
    named: bool = snapshot.cached(
        ("key tag named", leg.key_arn, leg.action, principal.type, principal.principal_arn),
        lambda: (
            _statements_name_key_tag(leg, snapshot, request)
            or snapshot.cached(
                ("org policies name", _KEY_TAG_LOWER),
                lambda: any(_names(doc) for doc in _org_policies(snapshot)),
            )
        ),
    )
    return named


def _statements_name_key_tag(leg: KmsLeg, snapshot: Snapshot, request: AccessRequest) -> bool:
    evidence = kept_evidence(snapshot, request.principal)
    for source in (*leg.key_policy, *evidence.identity, evidence.boundary):
        compiled = source.compiled if source is not None else None
        if compiled is not None and any(
            _names(statement.raw) for statement in compiled.statements_for_action(leg.action)
        ):
            return True
    return False


def _names(document: Any) -> bool:
    return _KEY_TAG_LOWER in json.dumps(document, default=str).lower()


def _org_policies(snapshot: Snapshot) -> Iterator[Any]:
    """The SCP and RCP documents of the snapshot's organization paths (every account's)."""
    sides = (side for side in snapshot.accounts.values() if isinstance(side, AccountSide))
    for org in (snapshot.organization, *(side.organization for side in sides)):
        if not isinstance(org, Organization):
            continue
        for level in org.levels:
            for policies in (level.scps, level.rcps):
                if isinstance(policies, tuple):
                    yield from (policy.content for policy in policies)


def leg_context(
    ctx: RequestContext,
    request: AccessRequest,
    leg: KmsLeg,
    account: str,
    org: tuple[str | None, str | None],
) -> RequestContext:
    """The context of S3's call to KMS made with the requester's credentials (a forward access
    session). Its resource is the key: `aws:ResourceAccount` is the key's account (`account`),
    `aws:ResourceOrgID` and `aws:ResourceOrgPaths` that account's organization and path (`org`,
    when known), `aws:ResourceTag/<key>` each of the key's tags (`leg.tags`), and no key of
    S3's own (`s3:`, the bucket owner's `s3:ResourceAccount` among them), of the S3 request's
    or the bucket's tags, or of the network path (S3 makes the call, not the requester's
    endpoint) is in a KMS request."""
    org_id, org_path = org
    region = request.region or leg.region or ""
    context_arn = leg.object_arn.split("/", 1)[0] if leg.bucket_key else leg.object_arn
    entries: dict[str, list[str] | None] = dict.fromkeys(
        name for name in ctx if not carried_to_kms(name)
    )
    entries.update(
        {
            "aws:ResourceAccount": [account] if account else None,
            "aws:ResourceOrgID": [org_id] if org_id else None,
            "aws:ResourceOrgPaths": [org_path] if org_path else None,
            "aws:ViaAWSService": ["true"],
            "kms:ViaService": [f"s3.{region}.amazonaws.com"] if region else None,
            "kms:CallerAccount": [request.principal.account_id],
            "kms:EncryptionContext:aws:s3:arn": [context_arn],
            "kms:EncryptionContextKeys": ["aws:s3:arn"],
        }
    )
    entries.update({KEY_TAG_PREFIX + key: [value] for key, value in leg.tags.items()})
    return ctx.with_entries(entries)


def call_context(
    request: AccessRequest, snapshot: Snapshot, ctx: RequestContext, action: str, key_arn: str
) -> RequestContext | None:
    """The context of S3's call `action` to KMS with `key_arn` for `request` (whose context is
    `ctx`), as the engine judged it; None when the request makes no such call."""
    for op in request.operations:
        for leg in kms_legs(request, snapshot, op, s3_facts(request, snapshot, op, ctx)):
            if leg.action == action and leg.key_arn == key_arn and not leg.skip_reason:
                account = key_account(leg.key_arn, snapshot)
                org = organization_keys(account, snapshot)
                return leg_context(ctx, request, leg, account, org)
    return None


def grant_hits(leg: KmsLeg, request: AccessRequest) -> Hits:
    """Grants whose grantee is the requester (or its role) and that allow the action."""
    hits = Hits(present=bool(leg.grants) or leg.grants_unreadable is not None)
    if leg.grants_unreadable is not None:
        hits.problems.append(leg.grants_unreadable)
    operation = leg.action.split(":", 1)[-1]
    principal = request.principal
    names = {principal.principal_arn, principal.requester_arn}
    context_arn = leg.object_arn.split("/", 1)[0] if leg.bucket_key else leg.object_arn
    for index, grant in enumerate(leg.grants):
        if grant.get("GranteePrincipal") not in names:
            continue
        if operation not in (grant.get("Operations") or ()):
            continue
        constraints = grant.get("Constraints") or {}
        wanted = {"aws:s3:arn": context_arn}
        subset = constraints.get("EncryptionContextSubset")
        equals = constraints.get("EncryptionContextEquals")
        if subset and any(wanted.get(k) != v for k, v in subset.items()):
            continue
        if equals and equals != wanted:
            continue
        hits.allows.append(
            StatementRef(
                policy=f"grant:{grant.get('GrantId', index)}",
                index=index,
                effect="Allow",
                note=f"KMS grant {grant.get('Name') or grant.get('GrantId', index)}",
            )
        )
    return hits
