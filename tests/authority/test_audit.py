"""The SM3-chained, append-only audit log and `authority audit verify|list`."""

import datetime as dt
import json
import subprocess
import threading

import pytest
import sqlalchemy as sa

from authority import audit, db
from authority.cli import main
from authority.models import AuditEntry


def add_entries(app, n, event="test.event"):
    with db.session_scope(app) as session:
        for i in range(n):
            audit.record(session, event, actor=f"actor-{i}", subject="s", details={"i": i})


def tamper(app, sql, **params):
    """Edit the table behind the application's back (as an attacker with DB access would)."""
    engine = db.engine(app)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        conn.execute(sa.text(sql), params)
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


def test_entries_are_chained(app):
    add_entries(app, 3)
    with db.session_scope(app) as session:
        entries = session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        assert [e.seq for e in entries] == [1, 2, 3]
        assert entries[0].prev_hash == audit.GENESIS_HASH
        assert entries[1].prev_hash == entries[0].hash
        assert entries[2].prev_hash == entries[1].hash
        assert all(audit.entry_hash(e) == e.hash for e in entries)
        assert entries[0].created_at.tzinfo is not None
        report = audit.verify_chain(session)
    assert report.ok and report.checked == 3 and report.head_hash == entries[2].hash


def test_chain_hash_matches_openssl(app):
    """The hash is SM3(prev ‖ canonical JSON), checked with the openssl command line."""
    add_entries(app, 2)
    with db.session_scope(app) as session:
        second = session.get(AuditEntry, 2)
        canonical = audit.canonical_entry(
            seq=2,
            time=second.created_at,
            event="test.event",
            actor="actor-1",
            subject="s",
            details={"i": 1},
        )
        prev, expected = second.prev_hash, second.hash
    assert canonical.startswith(b'{"actor":"actor-1","details":{"i":1},"event":"test.event"')
    digest = (
        subprocess.run(
            ["openssl", "dgst", "-sm3", "-r"],
            input=bytes.fromhex(prev) + canonical,
            capture_output=True,
            check=True,
        )
        .stdout.split()[0]
        .decode()
    )
    assert digest == expected


def test_canonical_encoding_is_documented_exactly():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 60000, tzinfo=dt.UTC)
    canonical = audit.canonical_entry(
        seq=1,
        time=when,
        event="login.success",
        actor="person:7",
        subject=None,
        details={"b": "身份", "a": [1, 2]},
    )
    assert (
        canonical
        == (
            '{"actor":"person:7","details":{"a":[1,2],"b":"身份"},"event":"login.success",'
            '"seq":1,"subject":null,"time":"2026-01-02T03:04:05.060000Z"}'
        ).encode()
    )


def test_rolled_back_transaction_leaves_no_entry(app):
    with pytest.raises(RuntimeError), db.session_scope(app) as session:
        audit.record(session, "test.event")
        raise RuntimeError("the change failed")
    with db.session_scope(app) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar() == 0


@pytest.mark.parametrize("event", ["Login", "login", "login..x", "login.x y", ""])
def test_bad_event_names_are_refused(app, event):
    with db.session_scope(app) as session, pytest.raises(audit.AuditError):
        audit.record(session, event)


def test_details_must_be_plain_json(app):
    with db.session_scope(app) as session, pytest.raises(audit.AuditError):
        audit.record(session, "test.event", details={"when": dt.datetime.now(dt.UTC)})


def test_verify_command_passes_on_an_intact_log(app, runner):
    add_entries(app, 4)
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "audit log intact: 4 entries" in result.output


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", "entry altered"),
        ("UPDATE audit_log SET details = :d WHERE seq = 3", "entry altered"),
        ("DELETE FROM audit_log WHERE seq = 3", "expected entry 3, found 4"),
        ("UPDATE audit_log SET hash = :h WHERE seq = 3", "entry altered"),
    ],
)
def test_verify_command_names_the_first_broken_entry(app, runner, sql, reason):
    add_entries(app, 5)
    tamper(app, sql, h="ab" * 32, d='{"i":99}')
    result = runner.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry" in result.output and reason in result.output
    expected_seq = 4 if "DELETE" in sql else 3
    assert f"entry {expected_seq}:" in result.output


def test_postgres_refuses_update_and_delete(app):
    if db.engine(app).dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    add_entries(app, 1)
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            db.engine(app).begin() as conn,
        ):
            conn.execute(sa.text(sql))


def test_concurrent_appends_never_fork_the_chain(app):
    if db.engine(app).dialect.name != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL deployment's concern")
    errors = []
    barrier = threading.Barrier(8)

    def writer(n):
        try:
            barrier.wait()
            for i in range(10):
                with db.session_scope(app) as session:
                    audit.record(session, "test.concurrent", actor=f"w{n}", details={"i": i})
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_scope(app) as session:
        report = audit.verify_chain(session)
    assert report.ok and report.checked == 80


def test_list_command_filters_and_limits(app, runner):
    add_entries(app, 3, event="login.success")
    add_entries(app, 2, event="license.issued")
    result = runner.invoke(main, ["audit", "list", "--event", "login", "--limit", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:3] == ["SEQ", "TIME", "(UTC)"]
    assert len(lines) == 3 and all("login.success" in line for line in lines[1:])
    assert lines[1].split()[0] == "3"  # newest first
    detail = json.loads(lines[1].split("  ")[-1].strip())
    assert detail == {"i": 2}
    result = runner.invoke(main, ["audit", "list", "--event", "nothing.here"])
    assert "no audit entries for nothing.here" in result.output


def test_verify_fails_when_the_append_only_trigger_is_disabled(app, runner):
    if db.engine(app).dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    add_entries(app, 2)
    assert "append-only trigger: enabled" in runner.invoke(main, ["audit", "verify"]).output
    with db.engine(app).begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    try:
        result = runner.invoke(main, ["audit", "verify"])
        assert result.exit_code == 1
        assert "the append-only trigger is disabled" in result.output
    finally:
        with db.engine(app).begin() as conn:
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
