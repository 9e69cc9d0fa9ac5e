"""`s3doctor findings report` / `replay --html`: one self-contained HTML page, escaped, tested
in a real browser (Debian's chromium, headless) when one is installed."""

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from chalicelib.cli import main
from chalicelib.report.html import script_json
from tests.functional.cli.test_replay_command import SCENARIO, _denied, _log_file
from tests.functional.findings_fixtures import findings_table  # noqa: F401

HOSTILE_KEYS = (
    "<img src=x onerror=alert(1)>",
    "</script><script>document.title='pwned'</script>",
    "\" onmouseover='alert(3)' x=\"",
)


def _batch_output(tmp_path: Path) -> Path:
    """`diagnose --batch` output over CloudTrail events whose keys are hostile, plus an error."""
    lines = []
    days = ("2025-03-01", "2025-03-02", "2025-03-02", "2025-03-04")
    for n, (key, day) in enumerate(zip(("data/report.csv", *HOSTILE_KEYS), days, strict=True)):
        event = {**_denied(f"ev-{n}", time=f"{day}T10:00:00Z")}
        event["requestParameters"] = {**event["requestParameters"], "key": key}
        event["resources"] = [
            {**r, "ARN": f"arn:aws:s3:::example-bucket/{key}"}
            if r.get("type") == "AWS::S3::Object"
            else r
            for r in event.get("resources", [])
        ]
        lines.append(json.dumps({"id": n, "event": event}))
    lines.append(json.dumps({"id": "bad", "request": {"action": "s3:GetObject"}}))
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    out = tmp_path / "findings.jsonl"
    argv = ["diagnose", "--snapshot", str(SCENARIO / "snapshot.json"), "--batch", str(batch)]
    result = subprocess.run(
        [str(Path(__file__).resolve().parents[3] / ".venv/bin/s3doctor"), *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    out.write_text(result.stdout)
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("report")
    html = tmp_path / "report.html"
    code = main(["findings", "report", "--from", str(_batch_output(tmp_path)), "--html", str(html)])
    assert code == 0
    return html


def _outside_data(page_text: str) -> str:
    """The page without its JSON data block."""
    return re.sub(r'<script type="application/json"[^>]*>.*?</script>', "", page_text, flags=re.S)


def test_the_page_is_self_contained(page):
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", _outside_data(text))  # no URL, not even an SVG xmlns
    assert not re.search(r"<(link|iframe|object|embed|img)\b", text, re.I)
    assert not re.search(r"<[a-z][^>]*\s(src|href)\s*=", text, re.I)  # no tag loads anything
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert "default-src &#x27;none&#x27;" in csp and "script-src &#x27;sha256-" in csp
    assert text.count("<svg") == 5  # over time, by cause, layer, bucket, principal


def test_every_hostile_value_is_escaped_and_the_data_block_cannot_be_closed(page):
    text = page.read_text()
    assert text.count("<script") == 2  # the JSON block and the page's own script, no other
    assert "onerror=alert(1)>" not in text.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;/script&gt;&lt;script&gt;" in text
    assert "&quot; onmouseover=&#x27;alert(3)&#x27;" in text
    block = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S
    )
    data = block.group(1)
    assert "<" not in data and ">" not in data and "&" not in data
    rows = json.loads(data)["rows"]
    assert any("<img src=x onerror=alert(1)>" in row for row in rows)  # raw once parsed
    assert "innerHTML" not in text


def test_script_json_escapes_what_could_end_the_block():
    assert script_json({"k": "</script>&\u2028"}) == '{"k": "\\u003c/script\\u003e\\u0026\\u2028"}'


def test_the_page_opens_each_finding_with_cause_layers_and_fix(page):
    text = page.read_text()
    assert text.count('<details class="row"') == 4  # the error line of the batch is skipped
    body = text.split('<details class="row"')[1]
    for heading in ("<h3>Cause</h3>", "<h3>Layers</h3>", "<h3>Fix</h3>"):
        assert heading in body
    assert "NO_ALLOW_IDENTITY" in body


def test_references_detail_leaves_out_patches_and_commands(tmp_path):
    html = tmp_path / "refs.html"
    findings = _batch_output(tmp_path)
    argv = ["findings", "report", "--from", str(findings), "--html", str(html)]
    assert main([*argv, "--detail", "references"]) == 0
    full = tmp_path / "full.html"
    assert main(["findings", "report", "--from", str(findings), "--html", str(full)]) == 0
    assert "aws iam put-user-policy" in full.read_text()
    assert "aws iam" not in html.read_text()
    assert "detail references" in html.read_text()


def test_a_findings_document_and_bad_files(tmp_path, capsys):
    path = tmp_path / "findings.json"
    golden = json.loads((SCENARIO / "golden.json").read_text())
    path.write_text(json.dumps({"findings": [golden]}))
    html = tmp_path / "r.html"
    assert main(["findings", "report", "--from", str(path), "--html", str(html)]) == 0
    assert html.read_text().count('<details class="row"') == 1
    capsys.readouterr()
    path.write_text('[{"not": "a finding"}]')
    assert main(["findings", "report", "--from", str(path), "--html", str(html)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--from" in err[-1]
    assert main(["findings", "report", "--from", str(tmp_path / "nope"), "--html", str(html)]) == 2


def test_findings_report_reads_the_table(tmp_path, findings_table, capsys):  # noqa: F811
    html = tmp_path / "table.html"
    argv = ["findings", "report", "--since", "2025-03-01", "--html", str(html)]
    assert main(argv) == 0, capsys.readouterr().err
    text = html.read_text()
    ids = re.findall(r'<details class="row" data-id="([^"]+)"', text)
    assert ids == ["f4", "f3", "f2"]  # newest first; f1 is older than --since
    assert "2025-03-03" in text and "2025-03-04" in text  # the days of the time chart
    assert main([*argv, "--bucket", "datalake"]) == 0
    assert re.findall(r'<details class="row" data-id="([^"]+)"', html.read_text()) == ["f2"]


def test_replay_html_writes_the_page_of_its_findings(tmp_path, capsys):
    trail = _log_file(tmp_path, [_denied("r-1"), _denied("r-2", time="2025-01-02T03:04:05Z")])
    html = tmp_path / "replay.html"
    argv = ["replay", "--events", str(trail), "--snapshot", str(SCENARIO / "snapshot.json")]
    assert main([*argv, "--html", str(html)]) == 0
    assert "2 of 2 events diagnosed." in capsys.readouterr().out
    ids = re.findall(r'<details class="row" data-id="([^"]+)"', html.read_text())
    assert sorted(ids) == ["r-1", "r-2"]


def test_the_written_page_is_the_rendered_page_line_for_line(page, tmp_path):
    """`findings report` writes the page a line at a time (`html_lines`): the same text as
    `render_html` gives for its findings, hostile keys and all, but for the time it was made."""
    from chalicelib.commands.report import load_findings
    from chalicelib.diagnose.detail import Detail
    from chalicelib.report import render_html

    findings, _ = load_findings(_batch_output(tmp_path))
    written = page.read_text(encoding="utf-8")
    stamp = re.search(r"generated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)", written)
    assert stamp is not None
    when = datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%SZ").replace(tzinfo=UTC)
    rendered = render_html(
        findings, detail=Detail.FULL, title="s3doctor findings", generated_at=when,
        source=str(tmp_path.parent / page.parent.name / "findings.jsonl"),
    )  # fmt: skip
    assert written == rendered.replace(str(tmp_path.parent / page.parent.name), str(page.parent))


def test_a_replay_page_is_written_without_being_held_whole(tmp_path):
    """The page of a replay's findings (some 9 KB a finding) is not held, joined and encoded
    in memory before it is written: 300 more findings add less than twice their page's text
    to the peak."""
    import contextlib
    import tracemalloc

    from bench.bench_workloads import trail
    from bench.engine_fixture import snapshot

    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    peaks, pages = [], []
    for n in (10, 100, 400):
        events = tmp_path / f"trail-{n}"
        events.mkdir()
        records = trail(n)["Records"]
        for start in range(0, n, 50):
            chunk = {"Records": records[start : start + 50]}
            (events / f"log-{start}.json").write_text(json.dumps(chunk))
        html = tmp_path / f"page-{n}.html"
        argv = ["replay", "--events", str(events), "--snapshot", str(snapshot_path)]
        tracemalloc.start()
        try:
            with (tmp_path / "out.txt").open("w") as sink, contextlib.redirect_stdout(sink):
                assert main([*argv, "--html", str(html)]) == 0
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        pages.append(html.stat().st_size)
    page_growth = (pages[2] - pages[1]) / 2**20
    peak_growth = (peaks[2] - peaks[1]) / 2**20
    assert page_growth > 2  # the page itself grew by some MB
    # the findings are kept for the page (some 13 KB each, sharing their layer results), the
    # page's text is not: held, joined and encoded, it added three times its size
    assert peak_growth < 2 * page_growth, f"+{peak_growth:.1f} MB for +{page_growth:.1f} MB"


# --------------------------------------------------------------------------- in a browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def _dump_dom(browser: str, url: str) -> str:
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--virtual-time-budget=2000", "--dump-dom", url],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (apt-get install chromium)")
def test_in_a_real_browser_charts_render_the_filter_applies_and_hostile_keys_stay_text(page):
    browser = _chromium()
    assert browser is not None
    # WHEN the page is opened with a filter preset in the URL hash
    dom = _dump_dom(browser, page.as_uri() + "#q=" + quote("onerror"))
    # THEN the script ran (it marks the body) and the charts are in the DOM
    assert 'data-filtered="yes"' in dom
    assert dom.count("<svg") == 5 and dom.count('class="bar"') >= 4
    # the table is filtered: only the row whose key holds "onerror" is shown
    rows = re.findall(r'<details class="row"[^>]*>', dom)
    assert len(rows) == 4
    assert [r for r in rows if "hidden" not in r] and len([r for r in rows if "hidden" in r]) == 3
    assert "1 of 4 findings shown" in dom
    # the hostile keys are text: no element was made from them, the title is untouched
    assert not re.search(r"<img\b", dom, re.I)
    assert dom.count("<script") == 2
    assert "<title>s3doctor findings</title>" in dom and "pwned" not in dom.split("<body")[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom
    # and without a filter every row is shown
    dom = _dump_dom(browser, page.as_uri())
    assert "4 of 4 findings shown" in dom
    assert "hidden" not in "".join(re.findall(r'<details class="row"[^>]*>', dom))
