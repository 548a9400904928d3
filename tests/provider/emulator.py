"""moto in server mode on loopback: the AWS API the real provider talks to in this tier.

One process, every service, one account. The account id is the provider's own: with
``skip_credentials_validation`` the provider never calls STS and uses ``000000000000`` as the account id
(``localstackAccountID`` in internal/clients/aws.go of provider-aws v2.5.0), so moto is started with
``MOTO_ACCOUNT_ID`` set to the same value and the ARNs both sides build agree.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import boto3

from devtools import processes

ACCOUNT_ID = "000000000000"
ACCESS_KEY = "regional-operator-tests"
SECRET_KEY = "regional-operator-tests"
REGIONS = ("us-east-1", "us-east-2")


class Moto:
    """``python -m moto.server`` as a child process on a free loopback port."""

    def __init__(self) -> None:
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MOTO_ACCOUNT_ID": ACCOUNT_ID, "PYTHONUNBUFFERED": "1"}
        self.process = processes.Process(
            "moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)], env)

    def start(self, timeout: float = 60) -> Moto:
        self.process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.proc is not None and self.process.proc.poll() is not None:
                raise RuntimeError(f"moto exited {self.process.proc.returncode}:\n{self.process.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"moto not serving on {self.url} after {timeout}s:\n{self.process.logs()}")

    def stop(self) -> None:
        self.process.cleanup()

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY)

    # --- what moto holds -------------------------------------------------------------------------------------

    def tagged(self, tag: str, value: str, regions: Iterable[str] = REGIONS) -> dict[str, dict[str, str]]:
        """ARN -> tags of every resource carrying ``tag=value``: the Resource Groups Tagging API in each region,
        plus IAM roles and S3 buckets listed directly (account-wide; moto's tagging API misses roles)."""
        found: dict[str, dict[str, str]] = {}
        for region in regions:
            pages = self.client("resourcegroupstaggingapi", region).get_paginator("get_resources").paginate(
                TagFilters=[{"Key": tag, "Values": [value]}])
            for page in pages:
                for res in page["ResourceTagMappingList"]:
                    found[res["ResourceARN"]] = {t["Key"]: t["Value"] for t in res.get("Tags", [])}
        iam = self.client("iam")
        for role in iam.list_roles()["Roles"]:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
            if tags.get(tag) == value:
                found[role["Arn"]] = tags
        s3 = self.client("s3")
        for bucket in s3.list_buckets()["Buckets"]:
            try:
                tagset = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
            except s3.exceptions.ClientError:
                continue
            tags = {t["Key"]: t["Value"] for t in tagset}
            if tags.get(tag) == value:
                found[f"arn:aws:s3:::{bucket['Name']}"] = tags
        return found

    def data(self) -> dict[str, Any]:
        """moto's own dump of every backend (``/moto-api/data.json``): for failure messages."""
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=30) as resp:
            return dict(json.loads(resp.read()))
