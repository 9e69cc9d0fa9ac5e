"""The cause catalog (data) and the codes used in code stay in step."""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib.diagnose import catalog
from chalicelib.diagnose.catalog import CauseCode, RemedyCode, entry, fill

DIAGNOSE = Path(catalog.__file__).parent


def test_every_cause_code_has_catalog_text_and_every_entry_has_a_code() -> None:
    causes, remedies = catalog.catalog_codes()
    assert causes == {c.value for c in CauseCode}
    assert remedies == {c.value for c in RemedyCode}


def test_spec_taxonomy_codes_are_all_in_the_catalog() -> None:
    # The codes of spec section 7.3 (OUT_OF_SCOPE_* expanded) are a public contract.
    spec = {
        "EXPLICIT_DENY_IDENTITY", "EXPLICIT_DENY_BUCKET_POLICY",
        "EXPLICIT_DENY_ACCESS_POINT_POLICY",
        "EXPLICIT_DENY_VPCE_POLICY", "NO_ALLOW_VPCE_POLICY", "EXPLICIT_DENY_SCP", "NO_ALLOW_SCP",
        "EXPLICIT_DENY_RCP", "EXPLICIT_DENY_BOUNDARY", "NO_ALLOW_BOUNDARY",
        "EXPLICIT_DENY_SESSION_POLICY", "NO_ALLOW_SESSION_POLICY", "NO_ALLOW_IDENTITY",
        "RESOURCE_GRANT_NOT_EFFECTIVE", "WRONG_RESOURCE_OR_ACTION_FORM", "CONDITION_NOT_MET",
        "OBJECT_OWNED_BY_OTHER_ACCOUNT", "BPA_BLOCK_PUBLIC_ACLS", "BPA_BLOCK_PUBLIC_POLICY",
        "BPA_IGNORE_PUBLIC_ACLS", "BPA_RESTRICT_PUBLIC_BUCKETS", "ACLS_DISABLED", "KMS_KEY_POLICY",
        "KMS_IDENTITY", "KMS_EXPLICIT_DENY", "KMS_KEY_STATE", "KMS_FORWARD_ACCESS_CONDITION",
        "OBJECT_MISSING_NO_LISTBUCKET", "OBJECT_LOCK", "EXPECTED_BUCKET_OWNER_MISMATCH",
        "REQUESTER_PAYS_HEADER_MISSING", "INCONCLUSIVE",
    }  # fmt: skip
    assert spec <= {c.value for c in CauseCode}


def test_code_literals_in_the_diagnose_package_are_catalogued() -> None:
    known = {c.value for c in CauseCode} | {c.value for c in RemedyCode}
    pattern = re.compile(r'"([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)"')
    used = set()
    for path in DIAGNOSE.glob("*.py"):
        used |= set(pattern.findall(path.read_text()))
    assert used <= known


def test_every_entry_has_title_why_and_fix_that_fill_without_error() -> None:
    for code in CauseCode:
        text = entry(code)
        assert text.title and text.why and text.fix
        filled = fill(text.why, {"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"})
        assert "{" not in filled


def test_fill_reads_naturally_when_a_value_is_missing() -> None:
    assert fill("Change {policy} for {principal}.", {"policy": None}) == (
        "Change the policy for the requester."
    )
