"""The offline verifier: a license and a trust bundle in, a verdict out.

docs/license-format.md, section "Verification", is normative: the order of the checks
below is the precedence of the verdicts. The verification time is
``max(now, bundle.issued_at)``, so a device whose clock runs behind gains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from keys.errors import CryptoError
from verify.bundle import TrustBundle
from verify.claims import LicenseClaims
from verify.cose import SIGNER_ID
from verify.decode import decode
from verify.errors import MalformedLicense
from verify.license import License
from verify.status import LicenseStatus

_BEIJING = timezone(timedelta(hours=8))


class VerdictState(StrEnum):
    """The distinct outcomes of verification (values are stable wire codes)."""

    VALID = "valid"
    VALID_STALE = "valid_stale"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    NOT_AUTHORISED = "not_authorised"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    KEY_COMPROMISED = "key_compromised"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Verdict:
    """The result of verifying one license, with explanations for people.

    ``license`` is the decoded license (None when the text was malformed);
    ``checked_at`` the verification time actually used (Unix seconds).
    """

    state: VerdictState
    explanation_zh: str
    explanation_en: str
    license: License | None = None
    checked_at: int | None = None

    @property
    def is_valid(self) -> bool:
        """True for ``valid`` and ``valid_stale`` (valid, but the bundle needs updating)."""
        return self.state in (VerdictState.VALID, VerdictState.VALID_STALE)


def _zh(moment: int) -> str:
    return datetime.fromtimestamp(moment, _BEIJING).strftime("%Y-%m-%d %H:%M（北京时间）")


def _en(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def malformed(reason: str) -> Verdict:
    """The verdict for a QR text that is not a license of this format."""
    return Verdict(
        VerdictState.MALFORMED,
        "二维码内容不是有效的电子证照格式，无法核验。",
        f"The QR code is not a well-formed license and cannot be checked: {reason}.",
    )


def verify_text(text: str, bundle: TrustBundle, now: int) -> Verdict:
    """Decode QR text and verify it: malformed text gives the ``malformed`` verdict."""
    try:
        license = decode(text)
    except MalformedLicense as exc:
        return malformed(exc.reason)
    return verify(license, bundle, now)


def verify(license: License, bundle: TrustBundle, now: int) -> Verdict:
    """Verify a decoded license against a loaded trust bundle at Unix time ``now``."""
    at = max(int(now), bundle.issued_at)
    claims: LicenseClaims = license.claims

    def verdict(state: VerdictState, zh: str, en: str) -> Verdict:
        return Verdict(state, zh, en, license, at)

    key = bundle.keys.get(license.kid)
    if key is None:
        return verdict(
            VerdictState.UNKNOWN_KEY,
            "签发密钥不在信任包中：证照可能是伪造的，或信任包需要更新。",
            "The signing key is not in the trust bundle: the license may be forged, "
            "or the trust bundle needs updating.",
        )
    try:
        key.public_key.verify_raw(license.signature, license.signed_bytes, signer_id=SIGNER_ID)
    except (CryptoError, ValueError):
        return verdict(
            VerdictState.BAD_SIGNATURE,
            "签名无效：证照内容已被篡改，或并非由其声称的密钥签发。",
            "The signature does not verify: the license was altered or not signed by "
            "the key it names.",
        )
    if key.credit_code is None or claims.issuer != key.credit_code:
        return verdict(
            VerdictState.NOT_AUTHORISED,
            "证照所列签发单位与签名证书的单位不一致。",
            "The issuer named in the license is not the organisation of the signing certificate.",
        )
    if claims.type_code not in key.license_types:
        return verdict(
            VerdictState.NOT_AUTHORISED,
            f"签发单位无权签发此类证照（类型 {claims.type_code}）。",
            f"The issuer is not authorised to issue this license type ({claims.type_code}).",
        )
    if not key.not_before <= claims.iat <= key.not_after:
        return verdict(
            VerdictState.NOT_AUTHORISED,
            "证照签发时，签名证书不在有效期内。",
            "The signing certificate was not valid when the license was signed.",
        )
    if key.compromised_at is not None and claims.iat >= key.compromised_at:
        return verdict(
            VerdictState.KEY_COMPROMISED,
            f"签发密钥已于 {_zh(key.compromised_at)} 报告泄露，此证照签发于其后"
            f"（{_zh(claims.iat)}），不可信。",
            f"The signing key was reported compromised on {_en(key.compromised_at)}; this "
            f"license was signed after that ({_en(claims.iat)}) and cannot be trusted.",
        )
    try:
        status = key.status.get(claims.status_index)
    except IndexError:
        if claims.iat < bundle.issued_at:
            # The issuer published a list after signing this license without covering
            # it: the license does not match its issuer's records. Fail closed.
            return verdict(
                VerdictState.MALFORMED,
                "证照的状态序号不在签发单位的状态列表中，无法确认其状态。",
                "The license's status index is not in its issuer's status list.",
            )
        status = None
    if status in (LicenseStatus.REVOKED, LicenseStatus.RESERVED):
        return verdict(
            VerdictState.REVOKED,
            "证照已被签发单位吊销。",
            "The license has been revoked by its issuer.",
        )
    if status is LicenseStatus.SUSPENDED:
        return verdict(
            VerdictState.SUSPENDED,
            "证照已被签发单位暂停（中止）使用。",
            "The license has been suspended by its issuer.",
        )
    if claims.exp is not None and at >= claims.exp:
        return verdict(
            VerdictState.EXPIRED,
            f"证照已于 {_zh(claims.exp)} 过期。",
            f"The license expired on {_en(claims.exp)}.",
        )
    if at < claims.nbf:
        return verdict(
            VerdictState.NOT_YET_VALID,
            f"证照尚未生效，生效时间为 {_zh(claims.nbf)}。",
            f"The license is not valid yet; it becomes valid on {_en(claims.nbf)}.",
        )
    if status is None:
        return verdict(
            VerdictState.VALID_STALE,
            "证照签名有效，但它晚于信任包签发，信任包中还没有它的状态。请更新信任包。",
            "The license's signature is valid, but it is newer than the trust bundle, "
            "which has no status for it yet. Update the trust bundle.",
        )
    if at > bundle.next_update:
        return verdict(
            VerdictState.VALID_STALE,
            f"证照有效，但信任包已过期（应于 {_zh(bundle.next_update)} 前更新），"
            "吊销状态可能不是最新的。请更新信任包。",
            f"The license is valid, but the trust bundle is out of date (its next update "
            f"was due {_en(bundle.next_update)}), so a recent revocation may be missing. "
            "Update the trust bundle.",
        )
    return verdict(VerdictState.VALID, "证照有效。", "The license is valid.")
