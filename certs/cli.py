"""Operator commands: ``authority catalogue|departments|issue-batch|bundle``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from tqdm import tqdm

from authority import db
from certs import bundle, catalogue, departments, issuance
from certs.errors import CertsError

catalogue_cli = AppGroup("catalogue", help="License types (同一事项、同一标准、同一编码).")
departments_cli = AppGroup("departments", help="Departments and their signing keys.")
bundle_cli = AppGroup("bundle", help="The trust bundle for offline verifiers.")


def register(app: Flask) -> None:
    app.cli.add_command(catalogue_cli)
    app.cli.add_command(departments_cli)
    app.cli.add_command(bundle_cli)
    app.cli.add_command(issue_batch)


def _fail(exc: CertsError) -> None:
    pointer = exc.extra.get("pointer")
    where = f" (at {pointer})" if pointer else ""
    raise click.ClickException(f"{exc.title}: {exc.detail}{where}")


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read JSON from {path}: {exc}") from None


def _validity(value: str | None) -> int | None:
    if value is None or value.lower() in ("none", "never", "no-expiry"):
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter("a number of days, or 'none' for no expiry") from None


# ---------------------------------------------------------------- catalogue


@catalogue_cli.command("add")
@click.option("--code", required=True, help="6-12 characters A-Z 0-9, starting with a letter")
@click.option("--name-zh", required=True)
@click.option("--name-en", required=True)
@click.option("--department", required=True, help="Owning department's credit code")
@click.option("--holder-kind", type=click.Choice(["person", "organisation"]), required=True)
@click.option("--schema", "schema_file", required=True, help="JSON Schema 2020-12 file")
@click.option("--validity-days", default=None, help="Days, or 'none' (no expiry)")
@with_appcontext
def catalogue_add(
    code: str,
    name_zh: str,
    name_en: str,
    department: str,
    holder_kind: str,
    schema_file: str,
    validity_days: str | None,
) -> None:
    """Add a license type (version 1)."""
    from authority import audit

    schema = _load_json(schema_file)
    try:
        with db.session_scope(current_app) as session:
            entry = catalogue.add_type(
                session,
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                department=departments.get(session, department),
                holder_kind=holder_kind,
                schema=schema,
                validity_days=_validity(validity_days),
            )
            audit.record(
                session, "catalogue.type_added", actor="cli", subject=code, details={"version": 1}
            )
    except CertsError as exc:
        _fail(exc)
    click.echo(f"added {entry.code} version {entry.version}")


@catalogue_cli.command("list")
@with_appcontext
def catalogue_list() -> None:
    """List the catalogue (latest version of each type)."""
    with db.session_scope(current_app) as session:
        for t in catalogue.list_types(session):
            validity = f"{t.validity_days} days" if t.validity_days else "no expiry"
            click.echo(
                f"{t.code}\tv{t.version}\t{t.department.credit_code}\t{t.holder_kind}\t"
                f"{validity}\t{t.name_zh} / {t.name_en}"
            )


@catalogue_cli.command("show")
@click.argument("code")
@click.option("--version", "version", type=int, default=None)
@with_appcontext
def catalogue_show(code: str, version: int | None) -> None:
    """Show a type (latest version unless --version) as JSON."""
    try:
        with db.session_scope(current_app) as session:
            versions = catalogue.type_versions(session, code)
            entry = catalogue.current_type(session, code)
            if version is not None:
                match = [v for v in versions if v.version == version]
                if not match:
                    raise click.ClickException(f"{code} has no version {version}")
                entry = match[0]
            body = catalogue.type_json(entry)
            body["versions"] = [v.version for v in versions]
    except CertsError as exc:
        _fail(exc)
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))


@catalogue_cli.command("update-schema")
@click.argument("code")
@click.argument("schema_file")
@click.option("--validity-days", default=None, help="Days, or 'none'; default: unchanged")
@with_appcontext
def catalogue_update_schema(code: str, schema_file: str, validity_days: str | None) -> None:
    """Give a type a new schema: creates version n+1; issued licenses keep theirs."""
    from authority import audit

    schema = _load_json(schema_file)
    kwargs: dict[str, Any] = {}
    if validity_days is not None:
        kwargs["validity_days"] = _validity(validity_days)
    try:
        with db.session_scope(current_app) as session:
            entry = catalogue.update_schema(session, code, schema, **kwargs)
            audit.record(
                session,
                "catalogue.schema_updated",
                actor="cli",
                subject=code,
                details={"version": entry.version},
            )
    except CertsError as exc:
        _fail(exc)
    click.echo(f"{entry.code} is now version {entry.version}")


# ---------------------------------------------------------------- departments


@departments_cli.command("add")
@click.option("--name", required=True)
@click.option("--credit-code", required=True, help="Unified social credit code (GB 32100)")
@click.option("--region", "region_code", required=True, help="6-digit region code (GB/T 2260)")
@with_appcontext
def departments_add(name: str, credit_code: str, region_code: str) -> None:
    """Register a department and certify its first SM2 signing key."""
    try:
        with db.session_scope(current_app) as session:
            dept = departments.add(
                session, name=name, credit_code=credit_code, region_code=region_code, actor="cli"
            )
    except CertsError as exc:
        _fail(exc)
    click.echo(
        f"added {dept.credit_code} {dept.name}; its SM2 key is certified when it gets "
        "its first license type (authority catalogue add)"
    )


@departments_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@with_appcontext
def departments_list(as_json: bool) -> None:
    """List departments."""
    with db.session_scope(current_app) as session:
        rows = [
            {"credit_code": d.credit_code, "region_code": d.region_code, "name": d.name}
            for d in departments.list_departments(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo("no departments yet (authority departments add)")
    else:
        click.echo(f"{'CREDIT CODE':<20}{'REGION':<8}NAME")
        for r in rows:
            click.echo(f"{r['credit_code']:<20}{r['region_code']:<8}{r['name']}")


def _certificate_state(c: Any) -> str:
    if c.compromised_at:
        return f"compromised {c.compromised_at.isoformat()}"
    if c.current:
        return "current"
    if c.retired_at:
        return f"retired {c.retired_at.isoformat()}"
    return "replaced"


@departments_cli.command("keys")
@click.argument("credit_code")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
@with_appcontext
def departments_keys(credit_code: str, as_json: bool) -> None:
    """A department's signing certificates (kid, types, state)."""
    try:
        with db.session_scope(current_app) as session:
            dept = departments.get(session, credit_code)
            rows = [
                {
                    "certificate_kid": c.kid,
                    "key_kid": c.stored_key_kid,
                    "license_types": list(c.license_types),
                    "state": _certificate_state(c),
                }
                for c in dept.certificates
            ]
    except CertsError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo(f"{credit_code} has no certified key yet (it gets one with its first type)")
    else:
        click.echo(f"{'CERTIFICATE KID':<18}{'KEY KID':<18}{'TYPES':<24}STATE")
        for r in rows:
            types = ",".join(r["license_types"]) or "-"
            click.echo(f"{r['certificate_kid']:<18}{r['key_kid']:<18}{types:<24}{r['state']}")


@departments_cli.command("rotate-key")
@click.argument("credit_code")
@with_appcontext
def departments_rotate(credit_code: str) -> None:
    """Certify a new signing key; the old one stays published while needed."""
    try:
        with db.session_scope(current_app) as session:
            row = departments.rotate(session, credit_code, actor="cli")
    except CertsError as exc:
        _fail(exc)
    if row is None:
        click.echo(f"new key for {credit_code} (certified when it gets a license type)")
    else:
        click.echo(f"new signing key {row.kid} for {credit_code}")


@departments_cli.command("report-compromised")
@click.argument("credit_code")
@click.argument("kid")
@click.option(
    "--at", "at_text", required=True, help="ISO 8601 time with zone, e.g. 2026-01-02T03:04:05+08:00"
)
@with_appcontext
def departments_compromised(credit_code: str, kid: str, at_text: str) -> None:
    """Record a key compromise: licenses signed after --at stop verifying."""
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise click.BadParameter("an ISO 8601 time", param_hint="--at") from None
    if at.tzinfo is None:
        raise click.BadParameter("the time must include a zone (Z or +08:00)", param_hint="--at")
    try:
        with db.session_scope(current_app) as session:
            affected = departments.report_compromised(session, credit_code, kid, at, actor="cli")
    except CertsError as exc:
        _fail(exc)
    click.echo(f"marked {len(affected)} certificate(s) compromised at {at.isoformat()}")


# ---------------------------------------------------------------- bulk issuance


def _rows(path: Path, entry_schema: dict[str, Any]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, raw line, request body) for each record of a CSV or JSON-lines file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                yield number, line, {"__error__": "the line is not JSON"}
                continue
            if isinstance(record, dict) and "holder" not in record:
                record = {
                    "holder": {"id": record.get("holder_id"), "name": record.get("holder_name")},
                    "fields": record.get("fields", {}),
                }
            yield (
                number,
                line,
                record if isinstance(record, dict) else {"__error__": "not an object"},
            )
        return
    props = entry_schema.get("properties", {})
    lines = text.splitlines()
    reader = csv.DictReader(io.StringIO(text))
    for record in reader:
        number = reader.line_num
        raw = lines[number - 1] if number - 1 < len(lines) else ""
        fields: dict[str, Any] = {}
        for name, value in record.items():
            if name in ("holder_id", "holder_name") or name is None or value in (None, ""):
                continue
            kind = props.get(name, {}).get("type")
            try:
                fields[name] = (
                    int(value) if kind == "integer" else float(value) if kind == "number" else value
                )
            except ValueError:
                fields[name] = value  # the schema check names the field
        yield (
            number,
            raw,
            {
                "holder": {"id": record.get("holder_id"), "name": record.get("holder_name")},
                "fields": fields,
            },
        )


def line_key(type_code: str, number: int, raw: str) -> str:
    """The idempotency key of one input line: resumable runs never issue it twice."""
    digest = hashlib.sha256(f"{type_code}\n{number}\n{raw}".encode()).hexdigest()
    return f"batch:{digest}"


@click.command("issue-batch")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--department", required=True, help="Issuing department's credit code")
@click.option("--type", "type_code", required=True, help="License type code")
@click.option("--chunk", default=100, show_default=True, help="Licenses per transaction")
@click.option("--stop-after", type=int, default=None, help="Stop after this many lines")
@with_appcontext
def issue_batch(
    file: Path, department: str, type_code: str, chunk: int, stop_after: int | None
) -> None:
    """Issue licenses from FILE (CSV with holder_id, holder_name and field columns, or
    JSON lines). Interrupt with Ctrl-C and run again: lines already issued are skipped
    (each line has an idempotency key derived from its content and position)."""
    client_id = f"cli:{department}"
    try:
        with db.session_scope(current_app) as session:
            dept = departments.get(session, department)
            entry = catalogue.current_type(session, type_code)
            schema = dict(entry.fields_schema)
    except CertsError as exc:
        _fail(exc)
    rows = list(_rows(file, schema))
    if stop_after is not None:
        rows = rows[:stop_after]
    counts = {"issued": 0, "existing": 0, "failed": 0}
    failures: list[str] = []
    progress = tqdm(total=len(rows), unit="lic", desc="issuing", file=sys.stderr)
    try:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            bodies = []
            for number, raw, body in part:
                body = dict(body)
                body["type"] = type_code
                body["idempotency_key"] = line_key(type_code, number, raw)
                bodies.append(body)
            with db.session_scope(current_app) as session:
                dept = departments.get(session, department)
                results = issuance.issue_batch(session, dept, bodies, client_id=client_id)
            for (number, _, body), result in zip(part, results, strict=True):
                if "__error__" in body:
                    counts["failed"] += 1
                    failures.append(f"line {number}: {body['__error__']}")
                elif result.issued is not None:
                    counts["issued" if result.issued.created else "existing"] += 1
                else:
                    assert result.error is not None
                    counts["failed"] += 1
                    pointer = result.error.extra.get("pointer", "")
                    failures.append(f"line {number}: {result.error.detail} {pointer}".rstrip())
            progress.update(len(part))
    except KeyboardInterrupt:
        progress.close()
        click.echo(
            f"interrupted: {counts['issued']} issued, {counts['existing']} already issued; "
            "run the same command again to resume",
            err=True,
        )
        sys.exit(130)
    progress.close()
    for line in failures:
        click.echo(line, err=True)
    click.echo(
        f"{counts['issued']} issued, {counts['existing']} already issued, {counts['failed']} failed"
    )
    if counts["failed"]:
        sys.exit(1)


# ---------------------------------------------------------------- bundle


@bundle_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def bundle_export(file: Path) -> None:
    """Write the current trust bundle (CBOR) to FILE."""
    try:
        with (
            db.session_scope(current_app) as session,
            tqdm(total=3, desc="bundle", unit="step", file=sys.stderr) as progress,
        ):
            record = bundle.current(session)
            progress.update(1)
            data = record.data
            sequence = record.sequence
            fingerprint = record.summary["root"]["fingerprint_sm3"]
            progress.update(1)
            tmp = file.with_name(file.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(file)
            progress.update(1)
    except CertsError as exc:
        _fail(exc)
    click.echo(f"wrote {file} ({len(data)} bytes, sequence {sequence})")
    click.echo(f"root fingerprint (SM3): {fingerprint}")


@bundle_cli.command("fingerprint")
@with_appcontext
def bundle_fingerprint() -> None:
    """Print the provincial root's SM3 fingerprint, for verifiers to pin."""
    try:
        with db.session_scope(current_app) as session:
            click.echo(bundle.root_fingerprint(session))
    except CertsError as exc:
        _fail(exc)
