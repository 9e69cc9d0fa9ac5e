"""Findings as ONE self-contained HTML file: charts, a filterable table, each finding opened.

Nothing is fetched when the page is viewed: the CSS and the script are inline, the charts are
inline SVG drawn here in Python, and a Content-Security-Policy allows no network at all and only
the page's own script (by its hash).

Every value of a finding comes from events and policies written by outsiders, so:

- every value goes through `html.escape` (quotes too), in text and in attributes alike;
- the data the script needs (the search text of each row) is a `<script type="application/json">`
  block in which `<`, `>` and `&` are written `\\u003c`, `\\u003e`, `\\u0026`, so no value can
  close the block;
- the script only reads that block and sets `hidden` and `textContent`: no `innerHTML`, no
  element built from data.

The page shows the findings at the detail level it is given (`Detail.FULL` for the user's own
CLI, `Detail.REFERENCES` for a report to hand around). Pure: no boto3, botocore or chalice.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from html import escape

from ..diagnose.detail import Detail, at_detail
from ..model import Finding, Json, StatementRef
from ..publish.timestamps import parse_utc

TOP = 10
"""Bars in each count chart."""
LABEL_LIMIT = 36
"""Longest chart label shown in full (the full value is in the bar's tooltip)."""

_CSS = """
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5;
  --bar: #c2410c; --bar2: #2563eb; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 0; padding: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
.meta { color: var(--muted); margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px; }
.wide { grid-column: 1 / -1; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg .bar { fill: var(--bar); } svg .rest { fill: #a8afbd; }
svg .tbar { fill: var(--bar2); } svg .axis { stroke: var(--line); }
#filter { width: 100%; padding: 8px 10px; font-size: 14px; border: 1px solid var(--line);
  border-radius: 6px; margin: 8px 0; }
.row > summary { display: grid; grid-template-columns: 150px 110px 1.3fr 1fr 1fr 1fr 50px;
  gap: 8px; padding: 6px 4px; cursor: pointer; border-bottom: 1px solid var(--line);
  list-style: none; overflow-wrap: anywhere; }
.row > summary::before { content: none; }
.head { display: grid; grid-template-columns: 150px 110px 1.3fr 1fr 1fr 1fr 50px; gap: 8px;
  padding: 6px 4px; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); }
.row[open] > summary { background: #eef2ff; }
.body { padding: 8px 12px 14px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.body h3 { font-size: 13px; margin: 10px 0 4px; }
.body ul { margin: 0; padding-left: 20px; }
pre { background: #f1f3f7; padding: 8px; border-radius: 6px; overflow-x: auto;
  white-space: pre-wrap; word-break: break-all; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.explicit-deny { color: #b91c1c; font-weight: 600; } .implicit-deny { color: #b45309; }
.muted { color: var(--muted); }
"""

# The page's only script: reads the JSON block, filters rows by the text box (and `#q=` in the
# URL), writes counts with textContent. No innerHTML, no element made from data.
_SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var box = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var rows = document.querySelectorAll("details.row");
  function apply() {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = data.rows[i] || "";
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      rows[i].hidden = !match;
      if (match) { count++; }
    }
    shown.textContent = count + " of " + rows.length + " findings shown";
    document.body.setAttribute("data-filtered", "yes");
  }
  var hash = window.location.hash;
  if (hash.indexOf("#q=") === 0) {
    try { box.value = decodeURIComponent(hash.slice(3).replace(/\\+/g, " ")); }
    catch (e) { box.value = hash.slice(3); }
  }
  box.addEventListener("input", apply);
  apply();
})();
"""


def render_html(
    findings: Sequence[Finding],
    *,
    detail: Detail = Detail.REFERENCES,
    title: str = "s3doctor findings",
    generated_at: datetime | None = None,
    source: str = "",
) -> str:
    """The report page for `findings` (newest first), at `detail`."""
    return "".join(
        html_lines(findings, detail=detail, title=title, generated_at=generated_at, source=source)
    )


def html_lines(
    findings: Sequence[Finding],
    *,
    detail: Detail = Detail.REFERENCES,
    title: str = "s3doctor findings",
    generated_at: datetime | None = None,
    source: str = "",
) -> Iterator[str]:
    """`render_html`'s page line after line, each row made as it is taken: a page of
    thousands of findings is written without its text held whole (nor joined, nor encoded)."""
    shown = [at_detail(f, detail) for f in _newest_first(findings)]
    generated = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%SZ")
    denials = sum(f.occurrences for f in shown)
    data: Json = {
        "rows": [_search_text(f) for f in shown],
        "detail": detail.value,
        "findings": len(shown),
    }
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_sha256(_SCRIPT)}'; base-uri 'none'; form-action 'none'"
    )
    charts = [
        _card("Denials over time", _time_chart(shown), wide=True),
        _card("By cause", _bar_chart(_count(shown, _causes))),
        _card("By layer", _bar_chart(_count(shown, _layers))),
        _card("By bucket", _bar_chart(_count(shown, _buckets))),
        _card("By principal", _bar_chart(_count(shown, _principals))),
    ]
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{len(shown)} findings, {denials} denials · generated {generated}'
        f" · detail {escape(detail.value)}"
        + (f" · from {escape(source)}" if source else "")
        + "</p>",
        '<div class="grid">',
        *charts,
        '<section class="card wide"><h2>Findings</h2>',
        '<input id="filter" type="search" placeholder="Filter: principal, bucket, cause, action,'
        ' id… (words must all match)" aria-label="Filter findings" autocomplete="off">',
        f'<p id="shown" class="muted">{len(shown)} of {len(shown)} findings shown</p>',
        '<div class="head"><span>Last seen</span><span>Decision</span><span>Cause</span>'
        "<span>Principal</span><span>Bucket</span><span>Action</span><span>Count</span></div>",
    ]
    for line in head:
        yield line + "\n"
    for finding in shown:
        yield _row(finding) + "\n"
    yield "</section></div>\n"
    yield f'<script type="application/json" id="report-data">{script_json(data)}</script>\n'
    yield f"<script>{_SCRIPT}</script>\n"
    yield "</body></html>\n"


def script_json(value: Json) -> str:
    """JSON safe inside a `<script>` element: `<`, `>`, `&` (and U+2028/9) as `\\uXXXX`."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _sha256(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _e(value: object) -> str:
    """Any value as HTML text or attribute value (quotes escaped too)."""
    return escape("" if value is None else str(value), quote=True)


# --------------------------------------------------------------------------- the data


def _when(finding: Finding) -> datetime | None:
    return parse_utc(finding.last_seen or finding.first_seen or finding.event_time)


def _newest_first(findings: Iterable[Finding]) -> list[Finding]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(findings, key=lambda f: _when(f) or epoch, reverse=True)


def _principal(finding: Finding) -> str:
    principal = finding.request.principal
    arn = principal.principal_arn or principal.requester_arn
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn or "-"


def _causes(finding: Finding) -> list[str]:
    return sorted({c.code for c in finding.causes}) or ["(no cause found)"]


def _layers(finding: Finding) -> list[str]:
    return [layer.value for layer in finding.blocked_by] or ["(none)"]


def _buckets(finding: Finding) -> list[str]:
    return [finding.request.bucket or "(no bucket)"]


def _principals(finding: Finding) -> list[str]:
    return [_principal(finding)]


def _count(findings: Iterable[Finding], keys: Callable[[Finding], list[str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for finding in findings:
        for key in keys(finding):
            counts[key] += finding.occurrences
    return counts


def _search_text(finding: Finding) -> str:
    request = finding.request
    words = [
        finding.finding_id,
        finding.decision.value,
        request.principal.principal_arn,
        request.principal.requester_arn,
        request.action,
        request.resource_arn,
        request.bucket or "",
        *(c.code for c in finding.causes),
        *(layer.value for layer in finding.blocked_by),
    ]
    return " ".join(w for w in words if w).lower()


# --------------------------------------------------------------------------- charts (SVG)


def _card(title: str, body: str, *, wide: bool = False) -> str:
    css = "card wide" if wide else "card"
    return f'<section class="{css}"><h2>{_e(title)}</h2>{body}</section>'


def _short(label: str) -> str:
    """Shortened in the middle: the end of an ARN (the role or user name) stays visible."""
    if len(label) <= LABEL_LIMIT:
        return label
    head = LABEL_LIMIT // 3
    return label[:head] + "…" + label[len(label) - (LABEL_LIMIT - head - 1) :]


def _bar_chart(counts: Counter[str]) -> str:
    """Horizontal bars, the TOP most frequent; the full label is each bar's <title>."""
    if not counts:
        return '<p class="muted">No data.</p>'
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    if len(counts) > TOP:
        top.append((f"({len(counts) - TOP} more)", sum(counts.values()) - sum(n for _, n in top)))
    row, label_w, bar_w = 24, 260, 200
    width, height = label_w + bar_w + 60, row * len(top) + 4
    most = max(n for _, n in top) or 1
    items = []
    for i, (label, count) in enumerate(top):
        y = i * row + 2
        length = max(2, round(bar_w * count / most))
        css = "bar rest" if i >= TOP else "bar"
        items.append(
            f'<g class="item"><title>{_e(label)}: {count}</title>'
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{_e(_short(label))}</text>'
            f'<rect class="{css}" x="{label_w}" y="{y + 4}" width="{length}" height="{row - 8}"'
            ' rx="2"></rect>'
            f'<text x="{label_w + length + 6}" y="{y + 16}">{count}</text></g>'
        )
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet">{"".join(items)}</svg>'
    )


def _time_chart(findings: Sequence[Finding]) -> str:
    """Denials (occurrences) per day — per month when the period is longer than 120 days."""
    dated = [(when, f.occurrences) for f in findings if (when := _when(f)) is not None]
    if not dated:
        return '<p class="muted">No dated findings.</p>'
    first, last = min(w for w, _ in dated), max(w for w, _ in dated)
    monthly = (last - first).days > 120
    counts: Counter[str] = Counter()
    for when, n in dated:
        counts[when.strftime("%Y-%m" if monthly else "%Y-%m-%d")] += n
    labels = _periods(first, last, monthly=monthly)
    height, top, bottom, left = 180, 10, 36, 40
    step = max(4, min(80, 900 // max(1, len(labels))))
    width = left + step * len(labels) + 10
    most = max(counts.values()) or 1
    plot = height - top - bottom
    items = [
        f'<line class="axis" x1="{left}" y1="{top + plot}" x2="{width - 5}" y2="{top + plot}">'
        "</line>",
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{most}</text>',
        f'<text x="{left - 6}" y="{top + plot}" text-anchor="end">0</text>',
    ]
    every = -(-86 // step)  # a label every ~86 px: 10 characters do not overlap
    for i, label in enumerate(labels):
        n = counts.get(label, 0)
        h = round(plot * n / most)
        x = left + i * step
        items.append(
            f'<g class="item"><title>{_e(label)}: {n} denials</title><rect class="tbar"'
            f' x="{x + 1}" y="{top + plot - h}" width="{max(2, step - 2)}" height="{h}"></rect>'
            "</g>"
        )
        if i % every == 0:
            items.append(f'<text x="{x}" y="{height - 12}">{_e(label)}</text>')
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%"'
        f' height="{height}" preserveAspectRatio="xMinYMin meet">{"".join(items)}</svg>'
    )


def _periods(first: datetime, last: datetime, *, monthly: bool) -> list[str]:
    """Every day (or month) from first to last, so quiet days show as gaps."""
    labels: list[str] = []
    if monthly:
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            labels.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return labels
    day = first.date()
    while day <= last.date():
        labels.append(day.isoformat())
        day = day.fromordinal(day.toordinal() + 1)
    return labels


# --------------------------------------------------------------------------- the table


def _row(finding: Finding) -> str:
    request = finding.request
    when = _when(finding)
    cause = finding.causes[0].code if finding.causes else "(no cause found)"
    cells = [
        when.strftime("%Y-%m-%d %H:%M") if when else "-",
        finding.decision.value,
        cause,
        _principal(finding),
        request.bucket or "-",
        request.action,
        str(finding.occurrences),
    ]
    spans = "".join(
        f'<span class="{_e(finding.decision.value)}">{_e(c)}</span>'
        if i == 1
        else f"<span>{_e(c)}</span>"
        for i, c in enumerate(cells)
    )
    return (
        f'<details class="row" data-id="{_e(finding.finding_id)}"><summary>{spans}</summary>'
        f'<div class="body">{_body(finding)}</div></details>'
    )


def _body(finding: Finding) -> str:
    request = finding.request
    out = [
        "<p>",
        f"<b>{_e(request.action)}</b> on <code>{_e(request.resource_arn)}</code><br>",
        f"by <code>{_e(request.principal.requester_arn)}</code>"
        f" ({_e(request.principal.type.value)})<br>",
        f"finding <code>{_e(finding.finding_id)}</code>",
        f" · event <code>{_e(finding.event_id)}</code>" if finding.event_id else "",
        f" · first seen {_e(finding.first_seen)}" if finding.first_seen else "",
        f" · blocked by {_e(', '.join(layer.value for layer in finding.blocked_by) or '-')}",
        "</p>",
    ]
    if finding.causes:
        out.append("<h3>Cause</h3><ul>")
        for cause in finding.causes:
            where = f" [{_e(cause.layer.value)}]" if cause.layer else ""
            ref = _statement(cause.statement) if cause.statement else ""
            out.append(
                f"<li><code>{_e(cause.code)}</code>{where} {_e(cause.message)}"
                f"{' (' + _e(cause.confidence) + ')' if cause.confidence != 'definite' else ''}"
                f"{ref}</li>"
            )
        out.append("</ul>")
    layers = [(e, r) for e in finding.evaluations for r in e.layers]
    if layers:
        out.append("<h3>Layers</h3><ul>")
        for evaluation, result in layers:
            statements = "".join(_statement(s) for s in result.statements)
            what = f" <span class='muted'>{_e(evaluation.action)}</span>"
            out.append(
                f"<li><b>{_e(result.layer.value)}</b>: {_e(result.outcome.value)}{what}"
                f"{' — ' + _e(result.detail) if result.detail else ''}{statements}</li>"
            )
        out.append("</ul>")
    if finding.near_misses:
        out.append("<h3>Near misses</h3><ul>")
        for miss in finding.near_misses:
            sid = f" Sid {_e(miss.sid)}" if miss.sid else ""
            element = f" ({_e(miss.element)})" if miss.element else ""
            out.append(
                f"<li><code>{_e(miss.policy)}</code> #{miss.index}{sid}{element}: "
                f"{_e(miss.why)}</li>"
            )
        out.append("</ul>")
    if finding.remedies:
        out.append("<h3>Fix</h3><ol>")
        for remedy in finding.remedies:
            verified = " <span class='muted'>(verified)</span>" if remedy.verified else ""
            out.append(
                f"<li><code>{_e(remedy.code)}</code> on <code>{_e(remedy.target)}</code>: "
                f"{_e(remedy.summary)}{verified}"
            )
            if remedy.cli:
                out.append(f"<pre><code>{_e(remedy.cli)}</code></pre>")
            if remedy.patch is not None:
                patch = json.dumps(remedy.patch, indent=2, sort_keys=True)
                out.append(f"<pre><code>{_e(patch)}</code></pre>")
            out.append("</li>")
        out.append("</ol>")
    if finding.unchecked:
        out.append("<h3>Not checked</h3><ul>")
        for item in finding.unchecked:
            needs = f" (needs <code>{_e(item.needs)}</code>)" if item.needs else ""
            out.append(f"<li>{_e(item.layer.value)}: {_e(item.reason)}{needs}</li>")
        out.append("</ul>")
    if finding.notes:
        out.append("<h3>Notes</h3><ul>")
        out += [f"<li>{_e(note)}</li>" for note in finding.notes]
        out.append("</ul>")
    return "".join(out)


def _statement(ref: StatementRef) -> str:
    sid = f" Sid {_e(ref.sid)}" if ref.sid else ""
    effect = f" {_e(ref.effect)}" if ref.effect else ""
    condition = ""
    if ref.failed_condition is not None:
        c = ref.failed_condition
        actual = "absent" if c.actual is None else ", ".join(c.actual)
        condition = (
            f"; condition {_e(c.operator)} {_e(c.key)}: expected {_e(', '.join(c.expected))},"
            f" actual {_e(actual)}"
        )
    note = f"; {_e(ref.note)}" if ref.note else ""
    return (
        f"<div class='muted'>statement <code>{_e(ref.policy)}</code> #{ref.index}"
        f"{sid}{effect}{condition}{note}</div>"
    )
