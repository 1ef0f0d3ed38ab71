"""Issuing licenses: validation, identifiers, race-free allocation, signing, idempotency.

Allocation. Serials are allocated per (type code, issuing department) and status-list
indexes per signing certificate, each by one atomic ``UPDATE … RETURNING`` (an upsert
for serials) inside the issuing transaction. On PostgreSQL the row lock serialises
concurrent issuers until commit, so two licenses never share a serial or an index, and
a failed issuance rolls its allocation back (no gaps from refusals).

Idempotency (draft-ietf-httpapi-idempotency-key-header). A request with an
``Idempotency-Key`` records (client, key, keyed hash of the request) in the same
transaction as the license, under a unique constraint. A retry finds the record and
gets the same license; a concurrent retry loses the race on the constraint, rolls back
and then finds the winner's record. The same key with a different body is refused.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authority import audit, db
from certs import catalogue, departments, field_validation, trust
from certs.errors import (
    CertsError,
    IdempotencyMismatch,
    InvalidRequest,
    SchemaViolation,
    TypeNotOwned,
)
from certs.holders import Holder, holder_index, keyed_hash, parse_holder, same
from certs.identifiers import LicenseIdentifier
from certs.models import (
    Department,
    IdempotencyRecord,
    License,
    LicenseType,
    SerialCounter,
    SigningCertificate,
)
from keys.sm2 import SM2PrivateKey
from verify.claims import LicenseClaims, check_content, holder_digest
from verify.encode import encode_many

#: Status lists are published in blocks of this many entries; crossing into a new block
#: makes a new trust bundle, so a fresh license's index is always inside the list.
STATUS_BLOCK = 8192
MAX_IDEMPOTENCY_KEY = 255
MAX_BATCH = 1000


@dataclass(frozen=True)
class Prepared:
    """A validated issuance request, ready to be written."""

    license_type: LicenseType
    holder: Holder
    holder_name: str
    fields: dict[str, Any]
    idempotency_key: str | None
    #: The keyed hash that tells a retry from another request under the same
    #: Idempotency-Key; only computed when there is a key.
    request_hash: str | None


@dataclass(slots=True)
class NewLicense:
    """A license just written, as a plain view of its row (same attribute names as
    :class:`License`, so :func:`license_json` takes either)."""

    identifier: str
    type_code: str
    license_type_id: int
    department_id: int
    serial: int
    version: int
    holder_kind: str
    holder_index: str
    holder_id_masked: str
    holder_id_salt: bytes
    holder_id_digest: bytes
    holder_name: str
    fields: dict[str, Any]
    issued_at: datetime
    not_before: datetime
    expires_at: datetime | None
    signing_kid: str
    status_index: int
    status: str
    qr_text: str
    client_id: str | None
    license_type: LicenseType
    department: Department
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    superseded_by: str | None = None


@dataclass
class Issued:
    license: License | NewLicense
    created: bool


@dataclass
class ItemResult:
    index: int
    issued: Issued | None = None
    error: CertsError | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def published_status_size(next_index: int) -> int:
    """The status-list length published for a certificate with ``next_index`` used."""
    return (next_index // STATUS_BLOCK + 2) * STATUS_BLOCK


def prepare(
    session: Session,
    department: Department,
    body: Any,
    *,
    idempotency_key: str | None = None,
    types: dict[str, LicenseType] | None = None,
) -> Prepared:
    """Validate one request body; every refusal names the failing member.

    ``types`` caches catalogue look-ups across the items of one batch.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object", pointer="")
    type_code = body.get("type")
    if not isinstance(type_code, str):
        raise InvalidRequest("type (the catalogue code) is required", pointer="/type")
    entry = types.get(type_code) if types is not None else None
    if entry is None:
        entry = catalogue.current_type(session, type_code)
        if types is not None:
            types[type_code] = entry
    if entry.department_id != department.id:
        raise TypeNotOwned(
            f"license type {type_code} is owned by another department",
            type_code=type_code,
            department=department.credit_code,
        )
    holder_body = body.get("holder")
    if not isinstance(holder_body, dict):
        raise InvalidRequest("holder must be an object with id and name", pointer="/holder")
    holder = parse_holder(entry.holder_kind, holder_body.get("id"))
    name = holder_body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise InvalidRequest("holder.name must be 1-128 characters", pointer="/holder/name")
    name = name.strip()
    fields = field_validation.validate_fields(entry, body.get("fields", {}))
    _check_encodable(name, fields)
    if idempotency_key is not None and (
        not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY
    ):
        raise InvalidRequest(
            f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters",
            pointer="/idempotency_key",
        )
    request_hash = None
    if idempotency_key is not None:
        canonical = json.dumps(
            [entry.code, holder.kind, holder.number, name, fields],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        request_hash = keyed_hash(canonical)
    return Prepared(entry, holder, name, fields, idempotency_key, request_hash)


def _check_encodable(name: str, fields: dict[str, Any]) -> None:
    """Refuse, before anything is written, a name or fields the wire format cannot carry
    (nested objects, text over 1024 characters, more than 64 fields:
    docs/license-format.md). The other claims come from checked data."""
    try:
        check_content(name, fields)
    except ValueError as exc:
        # verify.claims' messages are public text naming the limit that was broken.
        raise SchemaViolation(
            f"the fields cannot be carried in a license QR: {exc}",
            pointer="/fields",
            schema_keyword="license-format",
        ) from None


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def allocate_serials(session: Session, type_code: str, department_id: int, count: int) -> int:
    """Reserve ``count`` serials; returns the first. Atomic on both backends."""
    stmt = (
        _insert(session)(SerialCounter)
        .values(type_code=type_code, department_id=department_id, last_serial=count)
        .on_conflict_do_update(
            index_elements=[SerialCounter.type_code, SerialCounter.department_id],
            set_={"last_serial": SerialCounter.last_serial + count},
        )
        .returning(SerialCounter.last_serial)
    )
    last = int(session.execute(stmt).scalar_one())
    return last - count + 1


def allocate_status_indexes(session: Session, cert: SigningCertificate, count: int) -> int:
    """Reserve ``count`` status-list indexes of ``cert``; returns the first."""
    stmt = (
        sa.update(SigningCertificate)
        .where(SigningCertificate.id == cert.id)
        .values(next_status_index=SigningCertificate.next_status_index + count)
        .returning(SigningCertificate.next_status_index)
        .execution_options(synchronize_session=False)
    )
    end = int(session.execute(stmt).scalar_one())
    start = end - count
    if start // STATUS_BLOCK != end // STATUS_BLOCK:
        trust.changed(session)
    return start


def existing(session: Session, client_id: str, prepared: Prepared) -> Issued | None:
    """The license an earlier request with the same idempotency key created, if any."""
    if prepared.idempotency_key is None:
        return None
    record = session.scalar(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.client_id == client_id,
            IdempotencyRecord.key == prepared.idempotency_key,
        )
    )
    return _replay(session, record, prepared)


def _replay(
    session: Session, record: IdempotencyRecord | None, prepared: Prepared
) -> Issued | None:
    if record is None:
        return None
    assert prepared.request_hash is not None  # a record is only looked up under a key
    if not same(record.request_hash, prepared.request_hash):
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request",
            pointer="/idempotency_key",
        )
    found = session.scalar(
        sa.select(License).where(License.identifier == record.license_identifier)
    )
    assert found is not None
    return Issued(found, created=False)


def write(
    session: Session,
    department: Department,
    items: list[Prepared],
    *,
    client_id: str | None,
    version: int = 1,
    serial: int | None = None,
    now: datetime | None = None,
    audit_event: str = "license.issued",
    holder_from: License | None = None,
) -> list[NewLicense]:
    """Allocate, sign and add licenses for ``items`` (no commit).

    ``serial``/``version``/``holder_from`` are given when superseding: same serial, next
    version, and the holder's index, masked number and salted digest of the old license.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    cert = departments.current_certificate(session, department)
    assert cert is not None
    missing = {p.license_type.code for p in items} - set(cert.license_types)
    if missing:
        # The type was added after the last certification: certify the key again.
        cert = departments.recertify(session, department)
    key: SM2PrivateKey = departments.signing_key(session, cert)
    kid = bytes.fromhex(cert.kid)
    serials: dict[str, list[int]] = {}
    if serial is None:
        by_type: dict[str, int] = defaultdict(int)
        for p in items:
            by_type[p.license_type.code] += 1
        for code, count in sorted(by_type.items()):
            first = allocate_serials(session, code, department.id, count)
            serials[code] = list(range(first, first + count))
    index = allocate_status_indexes(session, cert, len(items))
    rows: list[dict[str, Any]] = []
    claims: list[LicenseClaims] = []
    stamp = int(now.timestamp())
    expiry: dict[int | None, datetime | None] = {None: None, 0: None}
    salts = secrets.token_bytes(16 * len(items))  # one system call for the whole batch
    for offset, p in enumerate(items):
        entry = p.license_type
        number = serial if serial is not None else serials[entry.code].pop(0)
        ident = str(LicenseIdentifier(entry.code, department.credit_code, number, version))
        days = entry.validity_days
        if days not in expiry:
            expiry[days] = now + timedelta(days=days)
        expires = expiry[days]
        if holder_from is not None:
            salt, digest = holder_from.holder_id_salt, holder_from.holder_id_digest
            masked, index_hex = holder_from.holder_id_masked, holder_from.holder_index
        else:
            salt = salts[16 * offset : 16 * offset + 16]
            digest = holder_digest(p.holder.number, salt)
            masked, index_hex = p.holder.masked, holder_index(p.holder.number)
        claims.append(
            LicenseClaims(
                issuer=department.credit_code,
                license_id=ident,
                type_code=entry.code,
                holder_name=p.holder_name,
                holder_id_masked=masked,
                holder_id_digest=digest,
                holder_id_salt=salt,
                fields=p.fields,
                iat=stamp,
                nbf=stamp,
                exp=int(expires.timestamp()) if expires else None,
                status_index=index + offset,
            )
        )
        rows.append(
            dict(
                identifier=ident,
                type_code=entry.code,
                license_type_id=entry.id,
                department_id=department.id,
                serial=number,
                version=version,
                holder_kind=p.holder.kind,
                holder_index=index_hex,
                holder_id_masked=masked,
                holder_id_salt=salt,
                holder_id_digest=digest,
                holder_name=p.holder_name,
                fields=p.fields,
                issued_at=now,
                not_before=now,
                expires_at=expires,
                signing_kid=cert.kid,
                status_index=index + offset,
                status="valid",
                qr_text="",
                client_id=client_id,
            )
        )
    try:
        # All signatures in one tight loop (verify.encode.encode_many says why).
        texts = encode_many(claims, key, kid)
    except ValueError as exc:  # prepare() checks most of this first; supersede reaches it
        raise SchemaViolation(
            f"the fields cannot be carried in a license QR: {exc}",
            pointer="/fields",
            schema_keyword="license-format",
        ) from None
    for row, text in zip(rows, texts, strict=True):
        row["qr_text"] = text
    # One COPY on PostgreSQL (authority.db.insert_rows): the ORM unit of work, a
    # multi-row INSERT … RETURNING and even a pipelined executemany cost the worker more
    # per row. What is returned are plain views of the rows (ORM objects cost more).
    db.insert_rows(session, License.__table__, rows)
    out = [
        NewLicense(**row, license_type=p.license_type, department=department)
        for row, p in zip(rows, items, strict=True)
    ]
    idempotency = [
        {
            "client_id": client_id,
            "key": p.idempotency_key,
            "request_hash": p.request_hash,
            "license_identifier": lic.identifier,
            "created_at": now,
        }
        for p, lic in zip(items, out, strict=True)
        if p.idempotency_key is not None and client_id is not None
    ]
    if idempotency:
        session.execute(sa.insert(IdempotencyRecord), idempotency)
    for lic in out:
        if len(out) == 1:
            audit.record(
                session,
                audit_event,
                actor=client_id,
                subject=lic.identifier,
                details={"type": lic.type_code, "department": department.credit_code},
            )
    if len(out) > 1:
        # One chained entry per batch transaction, naming every license: the audit chain
        # is a single serialisation point, and a batch commits as one unit anyway.
        audit.record(
            session,
            "license.batch_issued",
            actor=client_id,
            subject=department.credit_code,
            details={"count": len(out), "licenses": [lic.identifier for lic in out]},
        )
    session.flush()
    return out


def issue(
    session: Session,
    department: Department,
    body: Any,
    *,
    client_id: str,
    idempotency_key: str | None = None,
) -> Issued:
    """Issue one license and commit; a retried idempotent request returns the first one."""
    prepared = prepare(session, department, body, idempotency_key=idempotency_key)
    replay = existing(session, client_id, prepared)
    if replay is not None:
        return replay
    try:
        (lic,) = write(session, department, [prepared], client_id=client_id)
        session.commit()
    except IntegrityError:
        session.rollback()
        # A concurrent request with the same key committed first: answer with its license.
        replay = existing(session, client_id, prepared)
        if replay is not None:
            return replay
        raise
    return Issued(lic, created=True)


def issue_batch(
    session: Session, department: Department, items: Any, *, client_id: str
) -> list[ItemResult]:
    """Issue many licenses; each item is written completely or not at all.

    Valid new items are written in one transaction (one allocation per type, one
    commit); if that transaction fails, each item is retried on its own.
    """
    if not isinstance(items, list) or not items:
        raise InvalidRequest("items must be a non-empty array", pointer="/items")
    if len(items) > MAX_BATCH:
        raise InvalidRequest(f"at most {MAX_BATCH} items per batch", pointer="/items")
    results = [ItemResult(i) for i in range(len(items))]
    pending: list[tuple[int, Prepared, Any]] = []
    seen_keys: dict[str, int] = {}
    types: dict[str, LicenseType] = {}
    keys = {
        b["idempotency_key"]
        for b in items
        if isinstance(b, dict) and isinstance(b.get("idempotency_key"), str)
    }
    # One query for every key of the batch (and their licenses), not one per item.
    records = (
        {
            r.key: r
            for r in session.scalars(
                sa.select(IdempotencyRecord).where(
                    IdempotencyRecord.client_id == client_id, IdempotencyRecord.key.in_(keys)
                )
            )
        }
        if keys
        else {}
    )
    if records:
        idents = [r.license_identifier for r in records.values()]
        list(session.scalars(sa.select(License).where(License.identifier.in_(idents))))
    for i, body in enumerate(items):
        try:
            key = body.get("idempotency_key") if isinstance(body, dict) else None
            if key is not None and not isinstance(key, str):
                raise InvalidRequest("idempotency_key must be a string", pointer="/idempotency_key")
            prepared = prepare(session, department, body, idempotency_key=key, types=types)
            replay = _replay(session, records.get(key) if key else None, prepared)
        except CertsError as exc:
            _point(exc, i)
            results[i].error = exc
            continue
        if replay is not None:
            results[i].issued = replay
        elif key is not None and key in seen_keys:
            results[i].extra["same_as"] = seen_keys[key]
        else:
            if key is not None:
                seen_keys[key] = i
            pending.append((i, prepared, body))
    if pending:
        try:
            written = write(session, department, [p for _, p, _ in pending], client_id=client_id)
            session.commit()
            for (i, _, _), lic in zip(pending, written, strict=True):
                results[i].issued = Issued(lic, created=True)
        except IntegrityError:
            session.rollback()
            for i, _, body in pending:
                try:
                    key = body.get("idempotency_key")
                    results[i].issued = issue(
                        session, department, body, client_id=client_id, idempotency_key=key
                    )
                except CertsError as exc:
                    _point(exc, i)
                    results[i].error = exc
    for r in results:
        if "same_as" in r.extra:
            first = results[r.extra["same_as"]]
            r.issued, r.error = first.issued, first.error
            if r.issued is not None:
                r.issued = Issued(r.issued.license, created=False)
    return results


def _point(exc: CertsError, index: int) -> None:
    pointer = exc.extra.get("pointer")
    if isinstance(pointer, str):
        exc.extra["pointer"] = f"/items/{index}{pointer}"


def license_links(identifier: str, base: str | None = None) -> dict[str, str]:
    """The license's URLs under ``base`` (default: the issuer URL)."""
    if base is None:
        base = api_base()
    return {
        "self": f"{base}/api/v1/licenses/{identifier}",
        "status": f"{base}/api/v1/licenses/{identifier}/status",
        "qr_png": f"{base}/licenses/{identifier}/qr.png",
        "qr_svg": f"{base}/licenses/{identifier}/qr.svg",
    }


def api_base() -> str:
    """The issuer URL without its trailing slash, which every license link starts with."""
    return str(current_app.extensions["authority.settings"].issuer).rstrip("/")


def license_json(lic: License | NewLicense, base: str | None = None) -> dict[str, Any]:
    """The license as the issuing department sees it (holder number masked); ``base``
    as for :func:`license_links` (a batch computes it once)."""
    return {
        "id": lic.identifier,
        "type": lic.type_code,
        "type_version": lic.license_type.version,
        "issuer": lic.department.credit_code,
        "holder": {
            "kind": lic.holder_kind,
            "id_masked": lic.holder_id_masked,
            "name": lic.holder_name,
        },
        "fields": lic.fields,
        "issued_at": lic.issued_at.isoformat(),
        "not_before": lic.not_before.isoformat(),
        "expires_at": lic.expires_at.isoformat() if lic.expires_at else None,
        "status": lic.status,
        "status_reason": lic.status_reason,
        "superseded_by": lic.superseded_by,
        "kid": lic.signing_kid,
        "status_index": lic.status_index,
        "qr_text": lic.qr_text,
        "links": license_links(lic.identifier, base),
    }
