"""iam-simulate's S3 Block Public Access classifier table, run through `policy_is_public`.

The corpus (AGPL) is read from `../shared/conformance/iam-simulate/` at test time and never
copied. Skipped when the folder is missing, failed when env `CI` is set and it is missing.
Each case must agree on public / non-public and, for public policies, on which statements
(the corpus counts them from 1 and names their Sid).

All 51 cases agree with our reading of
https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
so there is no expected difference. Three cases go beyond the page's letter ("fixed values,
no wildcard") and we follow them on purpose: an `aws:PrincipalArn` wildcard inside one fixed
account, an `aws:PrincipalOrgPaths` wildcard under one fixed organization, and an
`aws:PrincipalServiceName` of `*.amazonaws.com` limit the grant no further than an account
principal, `aws:PrincipalOrgID` or a service principal do (the page applies the same
reasoning to `s3:DataAccessPointArn` wildcards in bucket policies).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from chalicelib.engine.public import policy_is_public
from tests.shared import CORPUS

TABLE = CORPUS / "unitTables" / "s3BpaPublicPolicyClassifier.json"


def _cases() -> list[Any]:
    if not TABLE.is_file():
        return [pytest.param(None, id="corpus-missing")]
    cases = json.loads(TABLE.read_text())["classifierCases"]
    return [pytest.param(case, id=case["name"]) for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_bpa_classifier_case(case: dict[str, Any] | None) -> None:
    if case is None:
        if os.environ.get("CI"):
            pytest.fail(f"conformance corpus missing at {TABLE} (CI is set)")
        pytest.skip(f"conformance corpus missing at {TABLE}")
    # WHEN the case's policy is classified
    verdict = policy_is_public(case["policy"])
    # THEN publicness and the public statements agree with the corpus
    assert verdict.is_public is (case["expected"] == "public"), verdict.reason
    expected = [(s["index"] - 1, s.get("sid")) for s in case.get("publicStatements", [])]
    assert [(s.index, s.sid) for s in verdict.statements] == expected
