"""Issue 15's workloads through the real console script, wall time (start-up included) and CPU.

Account: `engine_fixture` (11 policies, 48 statements). Every request carries eight context keys
(aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalTag/team, aws:username,
aws:SecureTransport, aws:SourceIp, aws:PrincipalOrgID, aws:RequestedRegion). Three workloads:

- identical: one line repeated;
- replay-like: each line its own object key, source IP and aws:CurrentTime / aws:EpochTime
  (ten context keys), as CloudTrail replays are;
- full findings: `--detail full` on replay-like lines, a seventh of them denied (near misses and
  fix verification run);
- denied findings: `--detail full` on replay-like lines that are all denied for want of a grant
  (`denied`: each finding proposes policy grants and verifies them on patched snapshots, what a
  replay of real AccessDenied events mostly asks);
- replay: `s3doctor replay --events F --snapshot S` on a CloudTrail log file of AccessDenied
  records (`trail`: each its own key, source IP and time; a third each denied for want of a
  grant, on a statement's wrong resource, by the bucket policy's Deny), its default text
  summary; again with `--jobs N` on a machine with several CPUs.

On a machine with several CPUs, both findings workloads run again with `--jobs N`, one worker
process per CPU (their CPU time is that of every process).

Each run is `.venv/bin/s3doctor diagnose --batch` as a user runs it: wall seconds from start to
exit (Python start-up included) and CPU seconds of the child, the median of `REPEAT` runs. The
package runs from compiled bytecode, as pip installs it: a first run writes it to a cache in the
temporary folder (`PYTHONPYCACHEPREFIX`), even where PYTHONDONTWRITEBYTECODE is set. The
iam-simulate column feeds the same decisions to the oracle in `../shared/tools/` (node start-up
included) when it can start; it is left out otherwise.

The interpreter is the project's `.venv`'s, or that of the virtual environment `BENCH_VENV`
names (the package installed in it): its first line says which, and whether it runs on a shared
libpython. pyenv builds one by default, without profile-guided optimisation; a distribution's
`python3` (Debian's, the `python` container images) is static and PGO-built, and runs the
same lines about a sixth faster here (docs/benchmarks.md, twenty-second round).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.engine_fixture import ACCOUNT, BUCKET, snapshot, statement_count
from chalicelib.commands.batch_workers import cpu_count

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("BENCH_VENV") or ROOT / ".venv")
"""The virtual environment whose `s3doctor` runs: the project's, or `BENCH_VENV`'s (another
interpreter's, the package installed in it)."""
SCRIPT = VENV / "bin" / "s3doctor"
ORACLE = ROOT.parent / "shared" / "tools" / "iam-simulate-oracle"
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SIZES = {"identical": 20_000, "replay-like": 20_000, "full findings": 2_000, "denied findings": 300}
REPLAY = 2_000  # CloudTrail records of the replay workload
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _entry(name: str, value: str, kind: str = "string") -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": kind}


def request(i: int, *, replay: bool) -> dict[str, Any]:
    """Request number i with the eight context keys (replay-like: own key, IP and time)."""
    key = f"raw/2025/{i % 12:02d}/part-{i}.csv" if i % 4 else f"home/alice/notes-{i}.txt"
    secure = "true" if (i % 7 or not replay) else "false"
    ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if replay else "203.0.113.7"
    context = [
        _entry("aws:PrincipalArn", ALICE),
        _entry("aws:PrincipalAccount", ACCOUNT),
        _entry("aws:PrincipalTag/team", "data"),
        _entry("aws:username", "alice"),
        _entry("aws:SecureTransport", secure, "boolean"),
        _entry("aws:SourceIp", ip, "ip"),
        _entry("aws:PrincipalOrgID", "o-abcd1234ef"),
        _entry("aws:RequestedRegion", "eu-west-1"),
    ]
    if replay:
        epoch = 1_764_000_000 + i * 7
        moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
        context += [
            _entry("aws:CurrentTime", moment, "date"),
            _entry("aws:EpochTime", str(epoch), "numeric"),
        ]
    if not replay:
        key = "raw/2025/01/part-1.csv"
    return {
        "requester_arn": ALICE,
        "action": "s3:GetObject",
        "resource_arn": f"arn:aws:s3:::{BUCKET}/{key}",
        "context": context,
    }


def denied(i: int) -> dict[str, Any]:
    """Replay-like request i, denied for want of a grant: s3:DeleteObject, or s3:GetObject
    under `secret/` (the fixes are policy grants, verified on patched snapshots)."""
    line = request(i, replay=True)
    if i % 2:
        line["action"] = "s3:DeleteObject"
    else:
        line["resource_arn"] = f"arn:aws:s3:::{BUCKET}/secret/{i % 5}/file-{i}.bin"
    return line


def trail(n: int) -> dict[str, Any]:
    """A CloudTrail log file of n AccessDenied records by alice on the fixture's bucket."""
    records = []
    for i in range(n):
        epoch = 1_764_000_000 + i * 7
        name, key = (
            ("DeleteObject", f"raw/2025/{i % 12:02d}/part-{i}.csv"),  # no grant
            ("GetObject", f"secret/{i % 5}/file-{i}.bin"),  # a statement on another resource
            ("PutObject", f"raw/2025/{i % 12:02d}/part-{i}.csv"),  # the bucket policy's Deny
        )[i % 3]
        records.append(
            {
                "eventVersion": "1.10",
                "userIdentity": {
                    "type": "IAMUser",
                    "principalId": "AIDAEXAMPLEALICE0001",
                    "arn": ALICE,
                    "accountId": ACCOUNT,
                    "userName": "alice",
                },
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
                "eventSource": "s3.amazonaws.com",
                "eventName": name,
                "awsRegion": "eu-west-1",
                "sourceIPAddress": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                "errorCode": "AccessDenied",
                "errorMessage": "Access Denied",
                "requestParameters": {"bucketName": BUCKET, "key": key},
                "additionalEventData": {"SignatureVersion": "SigV4"},
                "eventID": f"00000000-0000-4000-8000-{i:012d}",
                "recipientAccountId": ACCOUNT,
                "eventCategory": "Data",
                "tlsDetails": {"tlsVersion": "TLSv1.3"},
            }
        )
    return {"Records": records}


TREE = (100, 1_000, 100)
"""The trail tree: files, records a file, one record in this many an S3 AccessDenied."""


def trail_tree(folder: Path, files: int, per_file: int, every: int) -> int:
    """A busy account's trail as CloudTrail delivers it: `files` gzipped log files of
    `per_file` records, one in `every` an S3 AccessDenied of `trail` (the others S3 calls that
    succeeded and other services' calls, some of them denied); the number of denials."""
    import gzip

    denials = trail(files * per_file // every)["Records"]
    services = ("ec2.amazonaws.com", "sts.amazonaws.com", "kms.amazonaws.com", S3)
    for f in range(files):
        records = []
        for i in range(per_file):
            n = f * per_file + i
            if n % every == 0:
                records.append(denials[n // every])
                continue
            record = {**denials[n % len(denials)], "eventID": f"call-{n}"}
            record["eventSource"] = services[n % len(services)]
            if n % 7 or record["eventSource"] == S3:
                del record["errorCode"], record["errorMessage"]
            records.append(record)
        path = folder / f"{ACCOUNT}_CloudTrail_eu-west-1_{f:04d}.json.gz"
        path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode(), 6))
    return len(denials)


S3 = "s3.amazonaws.com"


def _environment(folder: Path) -> dict[str, str]:
    """The child's environment: bytecode written once to `folder`, then read."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(folder / "bytecode")}


def _cli(
    snapshot_path: Path, lines: Path, detail: str, n: int, jobs: int = 1
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its worker processes) of one batch run,
    start-up included."""
    command = [str(SCRIPT), "diagnose", "--snapshot", str(snapshot_path), "--batch", str(lines)]
    command += ["--detail", detail, "--jobs", str(jobs)]  # 1 too: a large file is spread unasked
    env = _environment(lines.parent)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    answers = result.stdout.decode().splitlines()
    assert len(answers) == n, "every line gets an answer"
    assert all('"error"' not in a for a in answers[:50]), answers[:2]
    return wall, cpu


def _replay(snapshot_path: Path, events: Path, n: int, jobs: int | None = 1) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of `s3doctor replay` on CloudTrail files, start-up included
    (`jobs` None: as a user runs it, without `--jobs`)."""
    command = [str(SCRIPT), "replay", "--events", str(events), "--snapshot", str(snapshot_path)]
    command += [] if jobs is None else ["--jobs", str(jobs)]  # unasked: spread from 500 events
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, check=True, env=_environment(events.parent)
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    assert f"{n} of {n} events diagnosed." in result.stdout.decode(), result.stdout[-500:]
    return wall, cpu


# --------------------------------------------------------------------------- iam-simulate


def _documents(doc: dict[str, Any]) -> dict[str, Any]:
    """The fixture's policies in iam-simulate's Simulation shape (alice's request)."""
    iam = doc["iam"]
    managed = {p["Arn"]: p["PolicyVersionList"][0]["Document"] for p in iam["Policies"]}
    user = iam["UserDetailList"][0]
    identity = [
        {"name": p["PolicyName"], "policy": p["PolicyDocument"]} for p in user["UserPolicyList"]
    ]
    identity += [
        {"name": p["PolicyName"], "policy": managed[p["PolicyArn"]]}
        for p in user["AttachedManagedPolicies"]
    ]
    for group in iam["GroupDetailList"]:
        identity += [
            {"name": p["PolicyName"], "policy": p["PolicyDocument"]}
            for p in group["GroupPolicyList"]
        ]
        identity += [
            {"name": p["PolicyName"], "policy": managed[p["PolicyArn"]]}
            for p in group["AttachedManagedPolicies"]
        ]
    boundary = managed[user["PermissionsBoundary"]["PermissionsBoundaryArn"]]
    scps = [
        {
            "orgIdentifier": level["target_id"],
            "policies": [{"name": s["Id"], "policy": s["Content"]} for s in level["scps"]],
        }
        for level in doc["organization"]["levels"]
    ]
    return {
        "identityPolicies": identity,
        "permissionBoundaryPolicies": [{"name": "Boundary", "policy": boundary}],
        "serviceControlPolicies": scps,
        "resourceControlPolicies": [],
        "resourcePolicy": doc["s3"]["buckets"][BUCKET]["policy"],
    }


def _simulation(req: dict[str, Any], documents: dict[str, Any]) -> dict[str, Any]:
    context = {e["ContextKeyName"]: e["ContextKeyValues"][0] for e in req["context"]}
    return {
        "request": {
            "principal": req["requester_arn"],
            "action": req["action"],
            "resource": {"resource": req["resource_arn"], "accountId": ACCOUNT},
            "contextVariables": context,
        },
        **documents,
    }


def _oracle(requests: list[dict[str, Any]], folder: Path) -> float | None:
    """iam-simulate decisions/s (wall, node start-up included), or None when it cannot run."""
    sys.path.insert(0, str(ORACLE))
    try:
        from oracle_client import run_file  # type: ignore[import-not-found]

        documents = _documents(snapshot())
        path = folder / "oracle.jsonl"
        path.write_text(
            "".join(
                json.dumps({"id": i, "simulation": _simulation(r, documents), "mode": "Strict"})
                + "\n"
                for i, r in enumerate(requests)
            )
        )
        answers, wall = run_file(path)
    except Exception as error:  # the oracle is optional: no node, no npm cache, no network
        print(f"(iam-simulate not run: {error})", file=sys.stderr)
        return None
    finally:
        sys.path.remove(str(ORACLE))
    if len(answers) != len(requests) or any("overallResult" not in a for a in answers):
        print(f"(iam-simulate answers incomplete: {answers[:1]})", file=sys.stderr)
        return None
    return len(requests) / wall


def _line(workload: str, i: int) -> dict[str, Any]:
    if workload == "denied findings":
        return denied(i)
    return request(i, replay=workload != "identical")


def _workloads(cpus: int) -> list[tuple[str, int, int]]:
    """(workload, lines, worker processes): each in one process; the findings again with one
    worker per CPU (`--jobs 0`) when there are several."""
    out = [(name, n, 1) for name, n in SIZES.items()]
    if cpus > 1:
        out += [(name, n, cpus) for name, n in SIZES.items() if name.endswith("findings")]
    return out


def _interpreter() -> str:
    """The Python that runs `SCRIPT`: its executable, version, and whether it runs on a shared
    libpython (pyenv's default build: slower than a distribution's static, PGO-built one)."""
    found = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", _INTERPRETER], capture_output=True, text=True
    )
    return found.stdout.strip() or f"{VENV / 'bin' / 'python'} (did not answer)"


_INTERPRETER = """
import os, sys, sysconfig
try:
    with open("/proc/self/maps") as maps:
        shared = str(sysconfig.get_config_var("LDLIBRARY")) in maps.read()
    kind = "shared libpython" if shared else "static"
except OSError:
    kind = "libpython unknown"
print(os.path.realpath(sys.executable), sys.version.split()[0], kind, sep=", ")
"""


def _rate(n: int, seconds: float) -> str:
    """n/seconds, or "-" when the run took no longer than the empty batch (a loaded machine)."""
    return f"{n / seconds:,.0f}" if seconds > 0.01 else "-"


def main() -> list[str]:
    policies, statements = statement_count(snapshot())
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        snap = folder / "snapshot.json"
        snap.write_text(json.dumps(snapshot()))
        empty = folder / "empty.jsonl"
        empty.write_text("")
        _cli(snap, empty, "full", 0)  # writes the bytecode of every module a run loads
        startup = [_cli(snap, empty, "decision", 0) for _ in range(REPEAT)]
        start_wall = statistics.median(w for w, _ in startup)
        start_cpu = statistics.median(c for _, c in startup)
        oracle_rate = _oracle([request(i, replay=True) for i in range(2_000)], folder)
        rows.append(
            f"account: {policies} policies, {statements} statements; 8 context keys a request "
            f"(replay-like: 10); median of {REPEAT} runs; from bytecode"
        )
        rows.append(f"interpreter: {_interpreter()}")
        rows.append(f"start-up (empty batch): {start_wall:.2f} s wall, {start_cpu:.2f} s CPU")
        if oracle_rate is not None:
            rows.append(f"iam-simulate (same run, replay-like, 2,000 lines): {oracle_rate:,.0f}/s")
        header = (
            f"{'workload':24} {'lines':>6} {'wall/s':>9} {'CPU/s':>9} "
            f"{'wall-startup/s':>15} {'CPU-startup/s':>14}"
        )
        if oracle_rate is not None:
            header += f" {'vs iam-simulate':>16}"
        rows += [header, "-" * len(header)]
        cpus = cpu_count()
        for name, n, jobs in _workloads(cpus):
            detail = "full" if name.endswith("findings") else "decision"
            lines = folder / f"{name.replace(' ', '-')}.jsonl"
            lines.write_text(
                "".join(json.dumps({"id": i, "request": _line(name, i)}) + "\n" for i in range(n))
            )
            runs = [_cli(snap, lines, detail, n, jobs) for _ in range(REPEAT)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            label = name if jobs == 1 else f"{name}, --jobs {jobs}"
            row = (
                f"{label:24} {n:>6,} {n / wall:>9,.0f} {n / cpu:>9,.0f} "
                f"{_rate(n, wall - start_wall):>15} {_rate(n, cpu - start_cpu):>14}"
            )
            if oracle_rate is not None:
                row += f" {n / wall / oracle_rate:>15.1f}x"
            rows.append(row)
        events = folder / "trail.json"
        events.write_text(json.dumps(trail(REPLAY)))
        for jobs in (1, cpus) if cpus > 1 else (1,):
            runs = [_replay(snap, events, REPLAY, jobs) for _ in range(REPEAT)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            label = "replay (CloudTrail)" if jobs == 1 else f"replay, --jobs {jobs}"
            rows.append(
                f"{label:24} {REPLAY:>6,} {REPLAY / wall:>9,.0f} {REPLAY / cpu:>9,.0f} "
                f"{_rate(REPLAY, wall - start_wall):>15} {_rate(REPLAY, cpu - start_cpu):>14}"
            )
        files, per_file, every = TREE
        tree = folder / "tree"
        tree.mkdir()
        denials = trail_tree(tree, files, per_file, every)
        records = files * per_file
        for jobs in (1, None) if cpus > 1 else (1,):
            runs = [_replay(snap, tree, denials, jobs) for _ in range(REPEAT)]
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            label = "replay, tree" + (", --jobs 1" if jobs == 1 else "")
            rows.append(
                f"{label:24} {records:>6,} {records / wall:>9,.0f} {records / cpu:>9,.0f} "
                f"{_rate(records, wall - start_wall):>15} {_rate(records, cpu - start_cpu):>14}"
            )
        rows.append(
            f"(replay, tree: {files} gzipped log files of {per_file:,} records, {denials:,} of "
            "them S3 AccessDenied; the rate is of records read)"
        )
    return rows


if __name__ == "__main__":
    for line in main():
        print(line)
