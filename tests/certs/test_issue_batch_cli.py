"""`authority issue-batch`: CSV and JSON lines, interrupted and resumed without duplicates.

The command runs as typed, in a subprocess, against the test database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from certs.models import License
from tests.certs.conftest import DEPT_CODE, count, id_number

ROOT = Path(__file__).resolve().parents[2]


def env_for(app_config: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHORITY_")}
    env.update(
        AUTHORITY_ENV="testing",
        DATABASE_URL=app_config["database_url"],
        SECRET_KEY=app_config["secret_key"],
        AUTHORITY_KEK=app_config["kek"],
        AUTHORITY_INSTANCE_PATH=app_config["instance_path"],
        PYTHONPATH=str(ROOT),
    )
    return env


def people(n: int) -> list[str]:
    start = dt.date(1980, 1, 1)
    return [
        id_number(f"350102{(start + dt.timedelta(days=i)).strftime('%Y%m%d')}123") for i in range(n)
    ]


def write_csv(path: Path, n: int) -> None:
    lines = ["holder_id,holder_name,qualification,level"]
    lines += [f"{pid},持证人{i},电工,{1 + i % 5}" for i, pid in enumerate(people(n))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authority", "issue-batch", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def distinct_serials(app: Any) -> int:
    from authority import db

    with app.app_context(), db.session_scope(app) as session:
        return int(session.scalar(sa.select(sa.func.count(sa.distinct(License.serial)))) or 0)


def test_stop_after_then_resume(
    app: Any, app_config: dict[str, Any], setup_dept: str, tmp_path: Path
) -> None:
    env = env_for(app_config)
    data = tmp_path / "people.csv"
    write_csv(data, 25)
    args = (str(data), "--department", DEPT_CODE, "--type", "QUALCERT", "--chunk", "4")
    first = run(env, *args, "--stop-after", "10")
    assert first.returncode == 0, first.stderr
    assert "10 issued, 0 already issued, 0 failed" in first.stdout
    assert "issuing" in first.stderr  # the tqdm progress bar
    assert count(app, License) == 10
    second = run(env, *args)
    assert second.returncode == 0, second.stderr
    assert "15 issued, 10 already issued, 0 failed" in second.stdout
    assert count(app, License) == 25 == distinct_serials(app)
    third = run(env, *args)
    assert "0 issued, 25 already issued" in third.stdout
    assert count(app, License) == 25


def test_interrupt_with_sigint_then_resume(
    app: Any, app_config: dict[str, Any], setup_dept: str, tmp_path: Path
) -> None:
    env = env_for(app_config)
    data = tmp_path / "people.csv"
    n = 300
    write_csv(data, n)
    args = [str(data), "--department", DEPT_CODE, "--type", "QUALCERT", "--chunk", "5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "authority", "issue-batch", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while count(app, License) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    interrupted = count(app, License)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert 0 < interrupted < n
    resumed = run(env, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{n - interrupted} issued, {interrupted} already issued, 0 failed" in resumed.stdout
    assert count(app, License) == n == distinct_serials(app)


def test_json_lines_and_failures(
    app: Any, app_config: dict[str, Any], setup_dept: str, tmp_path: Path
) -> None:
    env = env_for(app_config)
    a, b = people(2)
    data = tmp_path / "people.jsonl"
    data.write_text(
        "\n".join(
            [
                json.dumps(
                    {
                        "holder": {"id": a, "name": "甲"},
                        "fields": {"qualification": "电工", "level": 1},
                    }
                ),
                json.dumps(
                    {
                        "holder_id": "350102198001011230",
                        "holder_name": "乙",
                        "fields": {"qualification": "电工", "level": 1},
                    }
                ),
                json.dumps(
                    {"holder_id": b, "holder_name": "丙", "fields": {"qualification": "电工"}}
                ),
                "not json",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run(env, str(data), "--department", DEPT_CODE, "--type", "QUALCERT")
    assert result.returncode == 1
    assert "1 issued, 0 already issued, 3 failed" in result.stdout
    assert "line 2:" in result.stderr and "/holder/id" in result.stderr
    assert "line 3:" in result.stderr and "/fields/level" in result.stderr
    assert "line 4: the line is not JSON" in result.stderr
    assert "350102198001011230" not in result.stderr  # the refused number is not echoed
    assert count(app, License) == 1
