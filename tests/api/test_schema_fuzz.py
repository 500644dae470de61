"""The API as a schema fuzzer sees it: schemathesis runs every check against ``/openapi.json``.

It is run as its command-line tool against the API over a real socket, once with an admin key and
once with a customer key, with a bounded number of examples per operation, so every status an
operation answers must be documented, every response must match its schema, and no input may
reach a server error. The edge feed's long-poll (``GET /v1/edge/feed``, which may hold a request
for minutes by design) is left to its own tests in tests/enforcement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.support import customer_body

CONFIG = Path(__file__).with_name("schemathesis.toml")


def _customer_key(api: Api) -> str:
    admin = api.client("admin")
    customer = admin.post("/v1/customers", json=customer_body("Fuzzed Shop")).json()
    created = admin.post("/v1/keys", json={"role": "customer", "name": "fuzz", "customer_id": customer["id"]})
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["admin", "customer"])
def test_every_operation_answers_as_documented(api: Api, role: str, tmp_path: Path) -> None:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable, "schemathesis is a test dependency (pip install -e '.[test]')"
    key = api.keys["admin"] if role == "admin" else _customer_key(api)
    command = [
        executable,
        "--config-file",
        str(CONFIG),
        "run",
        f"{api.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "8",
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-deterministic",
        "--exclude-path",
        "/v1/edge/feed",
        "--request-timeout",
        "20",
        "--header",
        f"Authorization: Bearer {key}",
        "--report-dir",
        str(tmp_path),
        "--no-color",
    ]
    root = Path(__file__).resolve().parents[2]
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=420, cwd=tmp_path, env=environment
    )
    failures = done.stdout.partition("FAILURES")[2].partition("SUMMARY")[0]
    summary = (failures[:12000] + "\n" + done.stdout[-3000:]) if failures else done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert "Tested: " in done.stdout, summary
