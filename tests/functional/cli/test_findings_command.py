import json

import pytest

from chalicelib.cli import main
from tests.functional.findings_fixtures import FINDINGS, findings_table  # noqa: F401


@pytest.fixture(autouse=True)
def _table(findings_table):  # noqa: F811
    return findings_table


def test_list_prints_a_table_newest_first_for_people(capsys):
    assert main(["findings", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("LAST SEEN")
    # each finding: its row with the cause, then its id and resource
    positions = [out.index(f"    {f.finding_id}  s3:GetObject") for f in FINDINGS]
    assert positions == sorted(positions)
    assert "EXPLICIT_DENY_BUCKET_POLICY" in lines[1]
    assert "user/carol" in lines[1]


def test_list_json_with_filters_gives_the_findings_for_scripts(capsys):
    code = main(
        [
            "findings",
            "list",
            "--bucket",
            "reports",
            "--decision",
            "implicit-deny",
            "--output",
            "json",
        ]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert [f["finding_id"] for f in document["findings"]] == ["f3", "f1"]
    assert document["next_token"] is None


def test_list_limit_gives_a_token_for_the_next_page(capsys):
    assert main(["findings", "list", "--limit", "2", "--output", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (
        main(
            [
                "findings",
                "list",
                "--limit",
                "2",
                "--next-token",
                first["next_token"],
                "--output",
                "json",
            ]
        )
        == 0
    )
    second = json.loads(capsys.readouterr().out)
    ids = [f["finding_id"] for f in first["findings"] + second["findings"]]
    assert ids == [f.finding_id for f in FINDINGS]


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--limit", "0"], "--max-items"),
        (["--max-items", "-1"], "--max-items"),
        (["--page-size", "500"], "--page-size"),
        (["--since", "last tuesday"], "--since"),
        (["--starting-token", "garbage"], "--starting-token"),
        # an empty filter was sent to DynamoDB as a key: exit 1, "ValidationException"
        (["--bucket", ""], "--bucket"),
        (["--principal", ""], "--principal"),
        (["--since", ""], "--since"),
        # a 2,400-byte bucket name: DynamoDB refuses a key over 2,048 bytes (exit 1)
        (["--bucket", "\U0001f600" * 600], "--bucket"),
        # not the option's name, and Arabic-Indic digits passed for an account id (exit 0)
        (["--account", "1234"], "--account"),
        (["--account", "\u0661" * 12], "--account"),
    ],
)
def test_list_bad_filter_exits_2_with_one_line_naming_it(capsys, argv, field):
    assert main(["findings", "list", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert field in err[0]


def test_get_prints_the_finding_and_json_on_request(capsys):
    assert main(["findings", "get", "f2"]) == 0
    text = capsys.readouterr().out
    assert "arn:aws:s3:::datalake/data.csv" in text
    assert main(["findings", "get", "f2", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["finding_id"] == "f2"


def test_get_unknown_id_exits_1_saying_so(capsys):
    assert main(["findings", "get", "nope"]) == 1
    assert "no finding with id 'nope'" in capsys.readouterr().err


def test_list_since_a_year_before_1000_lists_everything(capsys):
    # `since` was written `500-01-01T…`, which sorts after every stored 2025 time: no findings
    assert main(["findings", "list", "--since", "0500-01-01", "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [f["finding_id"] for f in document["findings"]] == [f.finding_id for f in FINDINGS]
