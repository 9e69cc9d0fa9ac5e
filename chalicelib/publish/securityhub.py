"""AWS Security Hub: each alerted finding as one ASFF finding (`BatchImportFindings`).

Enabled with `SECURITY_HUB=enabled` (wiring.py). The product is the deploying account's own
default product, `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default` (the central
account's in an organization deployment), and `AwsAccountId` is that same account: with the
default product, Security Hub accepts a finding only from the account its `AwsAccountId` names
(BatchImportFindings API reference), administrator or not, so a member's `AwsAccountId` was
refused. The account the denial happened in (`ports.finding_account`) is in `ProductFields`
(`s3doctor/Account`) and the `Description`. The ASFF `Id` is
`s3-403-doctor/<finding id>`: stable, so a re-import updates the Security Hub finding instead
of adding one.

When:
- at the alert (inside the fan-out, so under the publish lease and the alert budget: a finding
  the budget held back is not imported then);
- when a repeat brings the finding's `occurrences` to a power of two (2, 4, 8, …): at most
  1 + log2(n) imports for n occurrences, so a flood of repeats cannot flood Security Hub.
  Such a repeat reads the finding back (one extra GetItem, only with Security Hub on); it
  creates the Security Hub finding if the budget had held back the alert.

What (fields of the AWS Security Finding Format):
- required: `SchemaVersion` 2018-10-08, `Id`, `ProductArn`, `GeneratorId`
  (`s3-403-doctor/<first cause code>`: the piece of logic that found it), `AwsAccountId` (the
  importing account),
  `Types`, `CreatedAt` (= `first_seen`, stable), `UpdatedAt` (now, never before `CreatedAt`),
  `Severity.Label` (our severity: HIGH explicit deny, MEDIUM implicit or inconclusive, LOW not
  reproduced; INFORMATIONAL for a finding that is not a diagnosis, below), `Title` (≤ 256),
  `Description` (≤ 1024: what was denied, why, how often, where the whole finding is),
  `Resources`;
- `Types`: "Software and Configuration Checks/AWS Security Best Practices" for a diagnosis (it
  is about how the policies are configured and how to fix them); "Unusual Behaviors/User" for
  an "outside access attempts" finding (denied attempts by callers outside the organization);
  the namespace alone, "Software and Configuration Checks" (a partial path is valid in the
  Types taxonomy), for a finding that is not a diagnosis: a request the engine does not model
  (not diagnosed, `Scope.OUT_OF_SCOPE`) or a finding about the deployment itself (severity
  `health`: the diagnoser's own read denied, a member role it could not assume), which judge
  no configuration;
- `FindingProviderFields` {`Severity`, `Types`}: where AWS wants a provider's own values, so
  that a user's changes to the top-level ones (BatchUpdateFindings) are not overwritten;
- `Resources`: `AwsS3Bucket` and `AwsS3Object` (`ResourceRole` Target), the principal as
  `AwsIamUser`, `AwsIamRole` or `Other` (`ResourceRole` Actor), at most 3 of ASFF's 32; their
  `Partition` is the resource ARN's when ASFF takes it (`aws`, `aws-cn`, `aws-us-gov`), else
  left out (it is optional; another value, aws-iso say, has the whole finding refused);
- `Remediation.Recommendation.Text`: the fix summary (≤ 512); no `Url`, no `SourceUrl`;
- `FirstObservedAt`, `LastObservedAt`, `ProductFields` (finding id, account, decision, layers,
  count, where to read the finding), `RecordState` ACTIVE;
- `Workflow.Status` NEW only on the first import: Security Hub ignores `Workflow` from
  BatchImportFindings for an existing finding (it is the user's, set with BatchUpdateFindings),
  and updates leave it out altogether so a user's status is never touched.

Values from events and policies are data in ASFF (JSON), cut to the documented lengths; in the
texts people read (`Title`, `Description`, the recommendation), which Security Hub's console,
its Chatbot and ticketing integrations show as they are, control characters, line breaks and
bidi overrides are visible escapes (`untrusted.neutralise`), as in every other rendering;
`Resources` ids keep raw ARNs. A failed import raises SecurityHubError (the fan-out logs it).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..aggregation import OUTSIDE_ATTEMPTS
from ..diagnose.detail import Detail, at_detail
from ..diagnose.render import denied_operation
from ..diagnose.render import subject as render_subject
from ..diagnose.untrusted import neutralise, shorten
from ..model import DiagnoserError, Finding, Json, PrincipalType, Scope
from .message import Notice, severity
from .ports import finding_account
from .timestamps import format_utc

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "2018-10-08"
ID_PREFIX = "s3-403-doctor/"
TITLE_MAX = 256
DESCRIPTION_MAX = 1_024
RECOMMENDATION_MAX = 512
ID_MAX = 512
PRODUCT_FIELD_KEY_MAX = 128
PRODUCT_FIELD_VALUE_MAX = 2_048
CONFIGURATION_TYPE = "Software and Configuration Checks/AWS Security Best Practices"
OUTSIDER_TYPE = "Unusual Behaviors/User"
NOT_DIAGNOSED_TYPE = "Software and Configuration Checks"
ASFF_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov"})
"""The values of `Resources[].Partition` that are ARN partitions (Security Hub API reference,
`Resource`; the SDK models' `aws-us-iso`, `aws-us-iso-b` and `AzureCloud` name none)."""
REQUIRED_FIELDS = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Types",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Title",
    "Description",
    "Resources",
)
_LABELS = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFORMATIONAL"}
_USERS = {PrincipalType.IAM_USER}
_ROLES = {PrincipalType.ASSUMED_ROLE, PrincipalType.ROLE}


class SecurityHubError(DiagnoserError):
    """Security Hub refused a finding."""


def product_arn(region: str, account_id: str) -> str:
    """The account's own default product: in its region's partition (aws-cn, aws-us-gov...:
    an `arn:aws:` product is refused there)."""
    return (
        f"arn:{region_partition(region)}:securityhub:{region}:{account_id}:product/{account_id}"
        "/default"
    )


@lru_cache(maxsize=64)
def region_partition(region: str) -> str:
    """The partition of a region, from botocore's endpoint data (`aws` when unknown)."""
    import boto3  # here: a replay imports this module, and publishes nothing

    try:
        return boto3.session.Session().get_partition_for_region(region) or "aws"
    except Exception:  # an unknown region name: botocore raises; the commercial partition
        return "aws"


def asff_id(finding_id: str) -> str:
    """`s3-403-doctor/<finding id>`, or a digest of it when that would be too long."""
    if len(ID_PREFIX) + len(finding_id) <= 200:
        return ID_PREFIX + finding_id
    return ID_PREFIX + "sha256-" + hashlib.sha256(finding_id.encode()).hexdigest()


def asff_finding(
    finding: Finding,
    *,
    account_id: str,
    region: str,
    now: datetime,
    detail: Detail = Detail.REFERENCES,
    new: bool = True,
) -> Json:
    """The ASFF document of `finding` at `detail`; `new` adds `Workflow.Status` NEW.

    `account_id` is the deploying account: the product ARN's and `AwsAccountId` (the only one
    Security Hub accepts from it); the finding's own account is `ProductFields` s3doctor/Account.
    """
    shown = at_detail(finding, detail)
    req = shown.request
    updated = format_utc(now)
    created = shown.first_seen or shown.event_time or updated
    created = created if created <= updated else updated
    diagnosis = _is_diagnosis(shown)
    label = _LABELS.get(severity(shown), "MEDIUM") if diagnosis else "INFORMATIONAL"
    outsider = OUTSIDE_ATTEMPTS in shown.extra
    types = [OUTSIDER_TYPE if outsider else CONFIGURATION_TYPE if diagnosis else NOT_DIAGNOSED_TYPE]
    cause = shown.causes[0].code if shown.causes else shown.decision.value
    document: Json = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": asff_id(shown.finding_id),
        "ProductArn": product_arn(region, account_id),
        "GeneratorId": _cut(ID_PREFIX + cause, ID_MAX),
        "AwsAccountId": account_id,
        "Types": types,
        "CreatedAt": created,
        "UpdatedAt": updated,
        "FirstObservedAt": created,
        "LastObservedAt": max(shown.last_seen or created, created),
        "Severity": {"Label": label},
        "FindingProviderFields": {"Severity": {"Label": label}, "Types": types},
        "Title": _cut(render_subject(shown), TITLE_MAX),
        "Description": description(shown),
        "Remediation": {"Recommendation": {"Text": recommendation(shown)}},
        "Resources": resources(shown, region=region),
        "ProductFields": _product_fields(shown),
        "RecordState": "ACTIVE",
    }
    if req.region:
        document["Region"] = _cut(req.region, 32)
    if new:
        document["Workflow"] = {"Status": "NEW"}
    return document


def description(finding: Finding) -> str:
    """What was denied, why, how often, and where the whole finding is (≤ 1024)."""
    req = finding.request
    named = denied_operation(finding)
    blocked = ", ".join(b.value for b in finding.blocked_by) or "no layer"
    causes = "; ".join(c.message.rstrip(".") for c in finding.causes[:3]) or "no cause found"
    account = _member_account(finding)
    where = f" in account {account}" if account else ""
    first = finding.first_seen or finding.last_seen  # none for the CLI's findings: no span
    when = f", {first} to {finding.last_seen or first}" if first else ""
    tail = (
        f" Seen {finding.occurrences} time(s){when}. Whole finding: "
        f"s3doctor findings get {finding.finding_id} (API: GET /findings/{finding.finding_id})."
    )
    body = neutralise(
        f"{named.action} on {named.resource_arn} by {req.principal.requester_arn}{where} was "
        f"denied: {finding.decision.value}, blocked by {blocked}. Why: {causes}."
    )
    room = DESCRIPTION_MAX - len(tail)
    if room < 200:  # an absurdly long finding id: keep the start of both
        return _cut(body + tail, DESCRIPTION_MAX)
    return _cut(body, room) + tail


def recommendation(finding: Finding) -> str:
    """The fix summary (≤ 512)."""
    if not finding.remedies:
        return _cut(
            f"No fix is known; read the finding: s3doctor findings get {finding.finding_id}",
            RECOMMENDATION_MAX,
        )
    more = len(finding.remedies) - 1
    extra = f" (+{more} more fix(es): s3doctor findings get {finding.finding_id})" if more else ""
    summary = neutralise(finding.remedies[0].summary)
    return _cut(summary, max(RECOMMENDATION_MAX - len(extra), 64)) + extra[:RECOMMENDATION_MAX]


def resources(finding: Finding, *, region: str) -> list[Json]:
    """The bucket and object of the denied operation (targets: a copy refused its write names
    its destination) and the principal (actor)."""
    req = finding.request
    named = denied_operation(finding)
    partition = _partition(named.resource_arn)
    out: list[Json] = []
    if named.bucket:
        out.append(
            _resource("AwsS3Bucket", f"arn:{partition}:s3:::{named.bucket}", partition, region)
            | {"ResourceRole": "Target"}
        )
        if named.key and named.resource_arn.startswith(f"arn:{partition}:s3:::"):
            out.append(
                _resource("AwsS3Object", named.resource_arn, partition, region)
                | {"ResourceRole": "Target"}
            )
    who = req.principal
    kind = "AwsIamUser" if who.type in _USERS else "AwsIamRole" if who.type in _ROLES else "Other"
    actor = who.principal_arn or who.requester_arn or who.type.value
    out.append(_resource(kind, actor, partition, region) | {"ResourceRole": "Actor"})
    return out


def is_due(occurrences: int) -> bool:
    """Whether a repeat that brought the count to `occurrences` re-imports (2, 4, 8, …)."""
    return occurrences >= 2 and occurrences & (occurrences - 1) == 0


def _resource(kind: str, identifier: str, partition: str, region: str) -> Json:
    resource: Json = {"Type": kind, "Id": _cut(identifier, ID_MAX), "Region": region}
    if partition in ASFF_PARTITIONS:
        resource["Partition"] = partition
    return resource


def _product_fields(finding: Finding) -> dict[str, str]:
    fields = {
        "s3doctor/FindingId": finding.finding_id,
        "s3doctor/Account": _member_account(finding) or "",
        "s3doctor/Decision": finding.decision.value,
        "s3doctor/BlockedBy": ",".join(b.value for b in finding.blocked_by) or "-",
        "s3doctor/CauseCodes": ",".join(c.code for c in finding.causes) or "-",
        "s3doctor/Action": finding.request.action,
        "s3doctor/Occurrences": str(finding.occurrences),
        "s3doctor/Api": f"GET /findings/{finding.finding_id}",
        "s3doctor/Cli": f"s3doctor findings get {finding.finding_id}",
    }
    return {
        _cut(k, PRODUCT_FIELD_KEY_MAX): _cut(v, PRODUCT_FIELD_VALUE_MAX)
        for k, v in fields.items()
        if v
    }


def _is_diagnosis(finding: Finding) -> bool:
    """Whether `finding` judges the request: not one the engine does not model, nor one about
    the deployment itself (module docstring, `Types`)."""
    return finding.request.scope is not Scope.OUT_OF_SCOPE and severity(finding) != "health"


def _member_account(finding: Finding) -> str | None:
    account = finding_account(finding)
    return account if account and len(account) == 12 and account.isdigit() else None


def _partition(arn: str) -> str:
    parts = arn.split(":", 2)
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def _cut(value: object, limit: int) -> str:
    return shorten(str(value), limit)


class SecurityHubPublisher:
    """Imports findings into Security Hub through an injected boto3 client."""

    def __init__(
        self,
        client: Any,  # a boto3 securityhub client (no type stubs installed)
        *,
        account_id: str | Callable[[], str],
        region: str,
        clock: Callable[[], datetime],
        detail: Detail = Detail.REFERENCES,
    ) -> None:
        self._client = client
        self._account_id = account_id
        self._region = region
        self._clock = clock
        self.detail = detail

    @property
    def account_id(self) -> str:
        if callable(self._account_id):
            self._account_id = self._account_id()
        return self._account_id

    def publish(self, finding: Finding) -> str:
        """Import the finding as NEW (an existing one is updated, its workflow kept)."""
        return self._import(finding, new=True)

    def publish_notice(self, notice: Notice) -> str:
        """Budget notices are about alerts, not security findings: not imported."""
        return ""

    def repeated(self, finding_id: str, lookup: Callable[[str], Finding | None]) -> str:
        """After a repeat was counted: re-import when the count reaches a power of two."""
        finding = lookup(finding_id)
        if finding is None or not is_due(finding.occurrences):
            return ""
        return self._import(finding, new=False)

    def _import(self, finding: Finding, *, new: bool) -> str:
        document = asff_finding(
            finding,
            account_id=self.account_id,
            region=self._region,
            now=self._clock(),
            detail=self.detail,
            new=new,
        )
        response: Any = self._client.batch_import_findings(Findings=[document])
        if response.get("FailedCount"):
            failed = response.get("FailedFindings") or [{}]
            raise SecurityHubError(
                f"Security Hub refused {document['Id']}: "
                f"{failed[0].get('ErrorCode')} {failed[0].get('ErrorMessage')}"
            )
        return str(document["Id"])
