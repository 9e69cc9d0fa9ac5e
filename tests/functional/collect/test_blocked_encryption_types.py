"""A bucket that blocks SSE-C, read with an S3 model older than `BlockedEncryptionTypes`.

The Lambda runtime's boto3 lags the SDK by months, and an older botocore drops an element its
model does not know: the collector would see a bucket that blocks SSE-C as one that does not,
and an upload refused for it would be "allowed, not reproduced". The collector's clients read
the element from S3's XML answer then (`clients.adapt_to_sdk`).

moto (5.2) does not keep `BlockedEncryptionTypes` (its GetBucketEncryption answers with
`ApplyServerSideEncryptionByDefault` and `BucketKeyEnabled` only), so a local HTTP server
answers here with S3's documented GetBucketEncryption XML; the older SDK is botocore itself,
loading an S3 model without the member.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest

from chalicelib.collect.clients import Boto3Clients, knows_blocked_encryption_types

ENCRYPTION_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>
    <BucketKeyEnabled>false</BucketKeyEnabled>
    <BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>
  </Rule>
</ServerSideEncryptionConfiguration>"""


class _S3Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(ENCRYPTION_XML)))
        self.end_headers()
        self.wfile.write(ENCRYPTION_XML)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _S3Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def older_sdk(tmp_path: Path) -> boto3.Session:
    """A boto3 session whose S3 model has no `BlockedEncryptionTypes` (as before 11/2025)."""
    model = copy.deepcopy(botocore.loaders.Loader().load_service_model("s3", "service-2"))
    del model["shapes"]["ServerSideEncryptionRule"]["members"]["BlockedEncryptionTypes"]
    folder = tmp_path / "models" / "s3" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(tmp_path / "models"))
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def _rule(client: Any) -> dict[str, Any]:
    answer = client.get_bucket_encryption(Bucket="new-bucket")
    return answer["ServerSideEncryptionConfiguration"]["Rules"][0]  # type: ignore[no-any-return]


def test_an_older_sdk_still_reads_that_the_bucket_blocks_sse_c(
    older_sdk: boto3.Session, s3_url: str
) -> None:
    plain = older_sdk.client("s3", endpoint_url=s3_url)
    assert not knows_blocked_encryption_types(plain)
    assert "BlockedEncryptionTypes" not in _rule(plain)  # what the SDK alone makes of it

    collector_s3 = Boto3Clients(older_sdk, endpoint_url=s3_url).s3()

    assert _rule(collector_s3)["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}


def test_a_current_sdk_reads_it_itself(s3_url: str) -> None:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    collector_s3 = Boto3Clients(session, endpoint_url=s3_url).s3()

    assert knows_blocked_encryption_types(collector_s3)
    assert _rule(collector_s3)["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}
