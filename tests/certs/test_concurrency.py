"""Concurrent issuance over real HTTP on PostgreSQL: idempotent retries racing each
other, and parallel issuers never sharing a serial or a status-list index."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from certs.identifiers import LicenseIdentifier
from certs.models import IdempotencyRecord, License
from tests.certs.conftest import DEPT_CODE, count, id_number, make_client, person_body, token_for

THREADS = 8


@pytest.fixture
def pg_token(app: Any, client: Any, runner: Any, db_url: str, setup_dept: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrency is tested on PostgreSQL (SQLite serialises writers)")
    cid, secret = make_client(app, runner, "licenses:issue", department=DEPT_CODE)
    return token_for(client, cid, secret, "licenses:issue")


def holder(i: int) -> dict[str, str]:
    day = dt.date(1970, 1, 1) + dt.timedelta(days=i)
    return {"id": id_number(f"350102{day:%Y%m%d}321"), "name": f"持证人{i}"}


def test_concurrent_retries_create_one_license(app: Any, live_server: str, pg_token: str) -> None:
    barrier = threading.Barrier(THREADS)
    headers = {"Authorization": f"Bearer {pg_token}", "Idempotency-Key": "retry-storm"}

    def attempt(_: int) -> tuple[int, str]:
        barrier.wait()
        r = requests.post(
            f"{live_server}/api/v1/licenses", json=person_body(), headers=headers, timeout=60
        )
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attempt, range(THREADS)))
    assert {status for status, _ in results} == {201}
    assert len({ident for _, ident in results}) == 1
    assert count(app, License) == 1 and count(app, IdempotencyRecord) == 1


def test_parallel_issuance_allocates_unique_serials(
    app: Any, live_server: str, pg_token: str
) -> None:
    per_thread = 10
    barrier = threading.Barrier(THREADS)
    headers = {"Authorization": f"Bearer {pg_token}"}

    def issue_many(t: int) -> list[str]:
        barrier.wait()
        out = []
        with requests.Session() as s:
            for k in range(per_thread):
                body = person_body(holder=holder(t * per_thread + k))
                r = s.post(f"{live_server}/api/v1/licenses", json=body, headers=headers, timeout=60)
                assert r.status_code == 201, r.text
                out.append(r.json()["id"])
        return out

    def batch(t: int) -> list[str]:
        items = [person_body(holder=holder(1000 + t * 5 + k)) for k in range(5)]
        r = requests.post(
            f"{live_server}/api/v1/licenses/batch",
            json={"items": items},
            headers=headers,
            timeout=60,
        )
        assert r.status_code == 200 and r.json()["issued"] == 5, r.text
        return [x["license"]["id"] for x in r.json()["results"]]

    with ThreadPoolExecutor(THREADS * 2) as pool:
        singles = pool.map(issue_many, range(THREADS))
        batches = pool.map(batch, range(THREADS))
        ids = [i for chunk in singles for i in chunk] + [i for chunk in batches for i in chunk]
    total = THREADS * per_thread + THREADS * 5
    assert len(ids) == len(set(ids)) == total
    serials = sorted(LicenseIdentifier.parse(i).serial for i in ids)
    assert serials == list(range(1, total + 1))

    from authority import db

    with app.app_context(), db.session_scope(app) as session:
        indexes = sorted(session.scalars(sa.select(License.status_index)))
    assert indexes == list(range(total))
