"""Public verification over HTTP: ``POST /api/v1/verify`` and the ``GET /verify`` page.

The API takes ``{"qr": "<the QR text>"}`` and answers with a verdict
(docs/verification-page.md). The signature, key, issuer authorisation and validity
period are checked exactly as an offline window does (verify.verifier against the
server's current trust bundle); then, because this path is online, the license's
status is taken from the server's own records at this instant, not from the bundle's
status lists (which may be up to a refresh interval old). The answer says so:
``"checked_against": "online-status"``.

Decisions:

- A body that is not a JSON object with a string ``qr`` is a 400 problem
  (urn:authority:problem:invalid-request): the caller's program is wrong. A string
  that is not a license is a 200 verdict ``malformed``: the window scanned something
  that is not one of ours, which is an answer, not an error.
- The endpoint is stateless, read-only and uses no cookies, so it is exempt from CSRF
  (a cross-site POST gains nothing it could not get by calling the API directly).
- License data is returned only when the signature verified; a forged or unknown
  license's claims are never echoed back as if they meant something.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy.orm import Session, joinedload

from authority import db
from authority.i18n import register_messages
from authority.problems import Problem, problem_type
from certs import bundle
from certs.catalogue import field_label
from certs.models import Department, License, LicenseType
from verify.bundle import TrustBundle
from verify.license import MAX_TEXT
from verify.license import License as DecodedLicense
from verify.verifier import Verdict, VerdictState, malformed, verify_text

bp = Blueprint(
    "certs_verify",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/certs/static",
)
api = Blueprint("certs_verify_api", __name__, url_prefix="/api/v1")

ONLINE = "online-status"
BUNDLE_ONLY = "trust-bundle"

#: States reached only after the signature verified against a trusted key.
AUTHENTIC = frozenset(
    {
        VerdictState.VALID,
        VerdictState.VALID_STALE,
        VerdictState.SUSPENDED,
        VerdictState.REVOKED,
        VerdictState.EXPIRED,
        VerdictState.NOT_YET_VALID,
    }
)


class InvalidVerifyRequest(Problem):
    status = 400
    title = "The request body is not valid"
    type = problem_type("invalid-request")


@dataclass(frozen=True)
class OnlineVerdict:
    state: VerdictState
    explanation_zh: str
    explanation_en: str
    checked_against: str
    license: DecodedLicense | None
    record: License | None
    bundle_sequence: int | None

    @property
    def valid(self) -> bool:
        return self.state in (VerdictState.VALID, VerdictState.VALID_STALE)


# Parsed bundles by content hash. A parsed bundle is immutable and the hash names its
# bytes, so this is a pure cache (no state that could differ between workers).
_parsed: dict[str, TrustBundle] = {}
_parsed_lock = threading.Lock()


def _trust_bundle(session: Session) -> TrustBundle:
    record = bundle.current(session)
    with _parsed_lock:
        found = _parsed.get(record.sha256)
    if found is not None:
        return found
    loaded = TrustBundle.load(
        record.data, pinned_root=bytes.fromhex(bundle.root_fingerprint(session))
    )
    with _parsed_lock:
        if len(_parsed) >= 4:
            _parsed.clear()
        _parsed[record.sha256] = loaded
    return loaded


def _from_record(
    verdict: Verdict, decoded: DecodedLicense, row: License, now: int, sequence: int
) -> OnlineVerdict:
    """Re-judge an authentic license with the server's status instead of the bundle's."""
    claims = decoded.claims

    def answer(state: VerdictState, zh: str, en: str) -> OnlineVerdict:
        if state == verdict.state and state in (
            VerdictState.EXPIRED,
            VerdictState.NOT_YET_VALID,
        ):
            # The offline verifier's wording names the dates: keep it.
            zh, en = verdict.explanation_zh, verdict.explanation_en
        return OnlineVerdict(state, zh, en, ONLINE, decoded, row, sequence)

    if row.status == "revoked":
        if row.superseded_by:
            return answer(
                VerdictState.REVOKED,
                f"证照已被新版本 {row.superseded_by} 取代，本版本已作废。",
                f"The license was superseded by version {row.superseded_by}; "
                "this version is no longer valid.",
            )
        return answer(
            VerdictState.REVOKED,
            "证照已被签发单位吊销（在线状态）。",
            "The license has been revoked by its issuer (online status).",
        )
    if row.status == "suspended":
        return answer(
            VerdictState.SUSPENDED,
            "证照已被签发单位暂停（中止）使用（在线状态）。",
            "The license has been suspended by its issuer (online status).",
        )
    if claims.exp is not None and now >= claims.exp:
        return answer(VerdictState.EXPIRED, "证照已过期。", "The license has expired.")
    if now < claims.nbf:
        return answer(VerdictState.NOT_YET_VALID, "证照尚未生效。", "The license is not valid yet.")
    return answer(
        VerdictState.VALID,
        "证照有效（已核对签发单位的在线状态）。",
        "The license is valid (checked against the issuer's online status).",
    )


def verify_online(session: Session, text: str, *, now: int | None = None) -> OnlineVerdict:
    """Verify QR text with the current trust bundle, then the server's current status."""
    now = int(datetime.now(UTC).timestamp()) if now is None else now
    if len(text) > MAX_TEXT:
        v = malformed("the text is longer than any QR code can hold")
        return OnlineVerdict(v.state, v.explanation_zh, v.explanation_en, ONLINE, None, None, None)
    trust = _trust_bundle(session)
    verdict = verify_text(text, trust, now)
    decoded = verdict.license
    if verdict.state not in AUTHENTIC or decoded is None:
        return OnlineVerdict(
            verdict.state,
            verdict.explanation_zh,
            verdict.explanation_en,
            BUNDLE_ONLY if verdict.state != VerdictState.MALFORMED else ONLINE,
            None,
            None,
            trust.sequence,
        )
    row = session.scalar(
        sa.select(License)
        # One round trip for the record and the catalogue names the answer shows.
        .options(joinedload(License.department), joinedload(License.license_type))
        .where(
            License.identifier == decoded.claims.license_id,
            License.signing_kid == decoded.kid.hex(),
            License.status_index == decoded.claims.status_index,
        )
    )
    if row is None:
        # Authentic, but this server has no record of it (for instance a database
        # restored from an older backup): the bundle's status is all we have.
        return OnlineVerdict(
            verdict.state,
            verdict.explanation_zh,
            verdict.explanation_en,
            BUNDLE_ONLY,
            decoded,
            None,
            trust.sequence,
        )
    return _from_record(verdict, decoded, row, now, trust.sequence)


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def license_summary(session: Session, result: OnlineVerdict) -> dict[str, Any] | None:
    """The license as the QR shows it, with public catalogue names; no extra personal data."""
    if result.license is None:
        return None
    claims = result.license.claims
    dept: Department | None
    entry: LicenseType | None
    if result.record is not None:
        dept, entry = result.record.department, result.record.license_type
    else:
        dept = session.scalar(sa.select(Department).where(Department.credit_code == claims.issuer))
        entry = session.scalar(
            sa.select(LicenseType)
            .where(LicenseType.code == claims.type_code)
            .order_by(LicenseType.version.desc())
            .limit(1)
        )
    return {
        "id": claims.license_id,
        "type": claims.type_code,
        "type_name": {"zh-CN": entry.name_zh, "en": entry.name_en} if entry else None,
        "issuer": {"credit_code": claims.issuer, "name": dept.name if dept else None},
        "holder": {"name": claims.holder_name, "id_masked": claims.holder_id_masked},
        "fields": claims.fields,
        # The catalogue's labels for the fields (docs/licenses.md, "Catalogue"): public.
        "field_labels": {
            name: {
                locale: field_label(entry.fields_schema if entry else None, name, locale)
                for locale in ("zh-CN", "en")
            }
            for name in claims.fields
        },
        "issued_at": _iso(claims.iat),
        "not_before": _iso(claims.nbf),
        "expires_at": _iso(claims.exp),
    }


def verdict_json(session: Session, result: OnlineVerdict) -> dict[str, Any]:
    body: dict[str, Any] = {
        "state": str(result.state),
        "valid": result.valid,
        "explanation": {"zh-CN": result.explanation_zh, "en": result.explanation_en},
        "license": license_summary(session, result),
        "checked_against": result.checked_against,
        "checked_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "trust_bundle_sequence": result.bundle_sequence,
    }
    if result.record is not None:
        row = result.record
        body["status"] = {
            "state": row.status,
            "reason": row.status_reason,
            "changed_at": row.status_changed_at.isoformat() if row.status_changed_at else None,
            "superseded_by": row.superseded_by,
        }
    return body


@api.post("/verify")
def verify_api() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidVerifyRequest(
            detail='the body must be a JSON object such as {"qr": "LC1:..."} '
            "(Content-Type: application/json)",
            pointer="",
        )
    text = body.get("qr")
    if not isinstance(text, str) or not text.strip():
        raise InvalidVerifyRequest(
            detail="qr must be the non-empty text read from the license's QR code",
            pointer="/qr",
        )
    session = db.session()
    result = verify_online(session, text.strip())
    response = jsonify(verdict_json(session, result))
    response.headers["Cache-Control"] = "no-store"
    return response


MESSAGES: dict[str, dict[str, str]] = {
    "verify.title": {"zh-CN": "电子证照核验", "en": "Verify an e-license"},
    "verify.intro": {
        "zh-CN": "扫描或粘贴证照二维码，立即得到核验结论。核验在线进行，使用签发单位的实时状态。",
        "en": "Scan or paste a license QR code for an immediate verdict. Verification is "
        "online and uses the issuer's current status.",
    },
    "verify.paste": {"zh-CN": "粘贴二维码内容", "en": "Paste the QR text"},
    "verify.paste_hint": {
        "zh-CN": "以 LC1: 或 LC1Z: 开头的文本（扫码枪可直接输入此处）",
        "en": "Text starting with LC1: or LC1Z: (a barcode scanner can type here)",
    },
    "verify.submit": {"zh-CN": "核验", "en": "Verify"},
    "verify.upload": {"zh-CN": "上传二维码照片", "en": "Upload a photo of the QR code"},
    "verify.camera": {"zh-CN": "用摄像头扫描", "en": "Scan with the camera"},
    "verify.camera_stop": {"zh-CN": "停止扫描", "en": "Stop scanning"},
    "verify.camera_error": {
        "zh-CN": "无法打开摄像头，请改用上传照片或粘贴文本。",
        "en": "The camera could not be opened; upload a photo or paste the text instead.",
    },
    "verify.no_qr": {
        "zh-CN": "图片中未找到二维码，请换一张更清晰的照片。",
        "en": "No QR code was found in the image; try a sharper photo.",
    },
    "verify.checking": {"zh-CN": "正在核验……", "en": "Checking…"},
    "verify.offline": {
        "zh-CN": "离线：无法连接核验服务器，未得出结论。请检查网络后重试，或使用离线核验工具。",
        "en": "Offline: the verification server cannot be reached, so there is no verdict. "
        "Check the network and try again, or use the offline verifier.",
    },
    "verify.server_error": {
        "zh-CN": "核验服务暂时出错，未得出结论，请稍后重试。",
        "en": "The verification service failed; there is no verdict. Please try again.",
    },
    "verify.verdict_valid": {"zh-CN": "有效", "en": "VALID"},
    "verify.verdict_invalid": {"zh-CN": "无效", "en": "NOT VALID"},
    "verify.verdict_warning": {"zh-CN": "暂停使用", "en": "SUSPENDED"},
    "verify.field.id": {"zh-CN": "证照编号", "en": "License number"},
    "verify.field.type": {"zh-CN": "证照类型", "en": "License type"},
    "verify.field.issuer": {"zh-CN": "签发单位", "en": "Issuer"},
    "verify.field.holder": {"zh-CN": "持证人", "en": "Holder"},
    "verify.field.holder_id": {"zh-CN": "证件号码", "en": "ID number"},
    "verify.field.issued_at": {"zh-CN": "签发日期", "en": "Issued"},
    "verify.field.expires_at": {"zh-CN": "有效期至", "en": "Valid until"},
    "verify.field.no_expiry": {"zh-CN": "长期", "en": "No expiry"},
    "verify.checked_online": {
        "zh-CN": "已核对签发单位的在线状态",
        "en": "Checked against the issuer's online status",
    },
    "verify.again": {"zh-CN": "核验下一张", "en": "Verify another"},
}
register_messages(MESSAGES)

#: The keys the page's script needs, handed over in a JSON data block (no inline JS).
SCRIPT_MESSAGES = [k for k in MESSAGES if k.startswith("verify.")]


#: Files the service worker keeps for offline use (the page itself is cached first).
OFFLINE_ASSETS = (
    ("certs_verify.static", "certs.css"),
    ("certs_verify.static", "vendor/jsqr/jsQR.js"),
    ("certs_verify.static", "verify.js"),
    ("static", "authority.css"),
    ("static", "favicon.svg"),
)


@bp.get("/verify-sw.js")
def service_worker() -> Response:
    """The page's service worker, with this deployment's asset URLs and a cache name
    that changes whenever one of the files does (so an update replaces the cache)."""
    import hashlib
    import json
    from pathlib import Path

    from flask import current_app, url_for

    assets = [url_for("certs_verify.verify_page")]
    digest = hashlib.sha256()
    for endpoint, filename in OFFLINE_ASSETS:
        assets.append(url_for(endpoint, filename=filename))
        folder = bp.static_folder if endpoint != "static" else current_app.static_folder
        path = Path(folder or "") / filename
        digest.update(path.read_bytes() if path.is_file() else filename.encode())
    template = Path(bp.static_folder or "", "verify-sw.js").read_text(encoding="utf-8")
    digest.update(template.encode())
    script = template.replace("__CACHE_NAME__", "authority-verify-" + digest.hexdigest()[:16])
    script = script.replace("__ASSETS__", json.dumps(assets))
    response = Response(script, mimetype="text/javascript")
    # Browsers re-check the worker at least daily; no-cache makes every check current.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/verify")
def verify_page() -> str:
    from authority.i18n import t

    strings = {key: t(key) for key in SCRIPT_MESSAGES}
    return render_template("certs/verify.html", strings=strings)
