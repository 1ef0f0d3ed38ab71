"""The offline verifier for service windows: ``python -m verify --bundle FILE QR``.

Needs no network, no database and no server: the QR (text, or a photo or screenshot
of it) and a trust bundle file. Exit status: 0 valid (also ``valid_stale``, with a
warning: the signature and the bundle's status are good, the bundle is just due for
an update), 1 not valid, 2 usage or input error (unreadable image, missing or bad
bundle). docs/license-format.md, "Offline verifier", documents it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TextIO

from verify.bundle import TrustBundle
from verify.errors import BundleError
from verify.store import BundleStore
from verify.verifier import Verdict, VerdictState, verify_text

EXIT_VALID, EXIT_NOT_VALID, EXIT_USAGE = 0, 1, 2

_BEIJING = timezone(timedelta(hours=8))

_HEADLINES = {
    VerdictState.VALID: ("√ 有效", "VALID"),
    VerdictState.VALID_STALE: ("√ 有效（信任包需更新）", "VALID (trust bundle out of date)"),
    VerdictState.BAD_SIGNATURE: ("× 签名无效", "BAD SIGNATURE"),
    VerdictState.UNKNOWN_KEY: ("× 未知签发密钥", "UNKNOWN SIGNING KEY"),
    VerdictState.NOT_AUTHORISED: ("× 签发单位无权签发", "ISSUER NOT AUTHORISED"),
    VerdictState.NOT_YET_VALID: ("× 尚未生效", "NOT YET VALID"),
    VerdictState.EXPIRED: ("× 已过期", "EXPIRED"),
    VerdictState.SUSPENDED: ("× 已暂停", "SUSPENDED"),
    VerdictState.REVOKED: ("× 已吊销", "REVOKED"),
    VerdictState.KEY_COMPROMISED: ("× 签发密钥已泄露", "SIGNING KEY COMPROMISED"),
    VerdictState.MALFORMED: ("× 无法识别", "MALFORMED"),
}


class UsageError(Exception):
    """Bad arguments or unusable input: exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify",
        description="Verify an e-license QR code offline against a trust bundle. "
        "离线核验电子证照二维码。",
        epilog="Exit status: 0 valid, 1 not valid, 2 usage or input error.",
    )
    parser.add_argument("qr", help="the QR text, '-' to read it from stdin, or a PNG/JPEG image")
    parser.add_argument("--bundle", metavar="FILE", help="trust bundle file (CBOR)")
    parser.add_argument(
        "--store",
        metavar="DIR",
        help="bundle store: keeps the newest bundle seen and refuses older ones "
        "(with --bundle, the file is offered to the store first)",
    )
    parser.add_argument("--pin", metavar="HEX", help="SM3 fingerprint of the pinned root (hex)")
    parser.add_argument("--holder-id", metavar="NUMBER", help="check the holder's ID number")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--now",
        type=int,
        metavar="SECONDS",
        help="verification time in Unix seconds (default: the clock; never before the "
        "bundle's issued_at)",
    )
    return parser


def _pin(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        pin = bytes.fromhex(value.replace(":", ""))
    except ValueError:
        raise UsageError("--pin must be a hexadecimal SM3 fingerprint") from None
    if len(pin) != 32:
        raise UsageError("--pin must be 32 bytes (64 hex digits)")
    return pin


def _load_bundle(args: argparse.Namespace) -> TrustBundle:
    pin = _pin(args.pin)
    data = None
    if args.bundle is not None:
        try:
            with open(args.bundle, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise UsageError(
                f"cannot read the trust bundle {args.bundle}: {exc.strerror}"
            ) from None
    try:
        if args.store is not None:
            store = BundleStore(args.store)
            if data is not None:
                return store.offer(data, pinned_root=pin)
            held = store.current(pinned_root=pin)
            if held is None:
                raise UsageError(f"the bundle store {args.store} is empty; give --bundle")
            return held
        if data is None:
            raise UsageError("give --bundle FILE (or --store DIR holding a bundle)")
        return TrustBundle.load(data, pinned_root=pin)
    except BundleError as exc:
        raise UsageError(f"trust bundle refused: {exc.reason}") from None


def _qr_text(argument: str, stdin: TextIO) -> str:
    if argument == "-":
        return stdin.read()
    if os.path.isfile(argument):
        # Imported here so that verifying text needs neither Pillow nor zxing-cpp.
        from verify.qrimage import QRImageError, read_qr_text

        try:
            return read_qr_text(argument)
        except QRImageError as exc:
            raise UsageError(f"{argument}: {exc}") from None
    return argument


def _time_text(moment: int | None) -> str:
    if moment is None:
        return "—"
    local = datetime.fromtimestamp(moment, _BEIJING).strftime("%Y-%m-%d %H:%M +08:00")
    utc = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{local} ({utc})"


def verdict_json(
    verdict: Verdict, bundle: TrustBundle, holder_match: bool | None
) -> dict[str, Any]:
    """The JSON object printed by ``--json`` (documented in docs/license-format.md)."""
    license_json = None
    if verdict.license is not None:
        claims = verdict.license.claims
        license_json = {
            "license_id": claims.license_id,
            "type_code": claims.type_code,
            "issuer": claims.issuer,
            "holder_name": claims.holder_name,
            "holder_id_masked": claims.holder_id_masked,
            "fields": claims.fields,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "exp": claims.exp,
            "status_index": claims.status_index,
            "kid": verdict.license.kid.hex(),
        }
    return {
        "state": verdict.state.value,
        "valid": verdict.is_valid,
        "explanation": {"zh-CN": verdict.explanation_zh, "en": verdict.explanation_en},
        "checked_at": verdict.checked_at,
        "holder_id_match": holder_match,
        "license": license_json,
        "bundle": {
            "sequence": bundle.sequence,
            "issued_at": bundle.issued_at,
            "next_update": bundle.next_update,
            "root_fingerprint_sm3": bundle.root_fingerprint.hex(),
        },
    }


def _print_human(
    verdict: Verdict,
    bundle: TrustBundle,
    holder_match: bool | None,
    out: TextIO,
    *,
    pinned: bool = True,
) -> None:
    zh, en = _HEADLINES[verdict.state]
    bar = "=" * 60
    print(bar, file=out)
    print(f"  {zh}    {en}", file=out)
    print(bar, file=out)
    print(verdict.explanation_zh, file=out)
    print(verdict.explanation_en, file=out)
    if holder_match is not None:
        if holder_match:
            print("持证人证件号码一致。 The holder's ID number matches.", file=out)
        else:
            print("× 持证人证件号码不一致！ The ID number does NOT match the holder!", file=out)
    if verdict.license is not None:
        claims = verdict.license.claims
        rows = [
            ("证照编号 License ID", claims.license_id),
            ("证照类型 Type", claims.type_code),
            ("签发单位 Issuer", claims.issuer),
            ("持证人 Holder", claims.holder_name),
            ("证件号码 ID number", claims.holder_id_masked),
            ("签发时间 Issued", _time_text(claims.iat)),
            ("生效时间 Valid from", _time_text(claims.nbf)),
            ("失效时间 Valid until", _time_text(claims.exp) if claims.exp else "长期 permanent"),
        ]
        print(file=out)
        for label, value in rows:
            print(f"{label}: {value}", file=out)
        if claims.fields:
            print("字段 Fields:", file=out)
            for name, value in claims.fields.items():
                shown = "、".join(map(str, value)) if isinstance(value, list) else value
                print(f"  {name}: {shown}", file=out)
    print(file=out)
    print(
        f"信任包 Trust bundle: #{bundle.sequence}, issued {_time_text(bundle.issued_at)}, "
        f"next update {_time_text(bundle.next_update)}",
        file=out,
    )
    print(f"根证书指纹 Root fingerprint (SM3): {bundle.root_fingerprint.hex()}", file=out)
    if not pinned:
        # Without a pin, a bundle made with any root would be believed: say so where
        # the clerk reads the verdict (docs/trust-bundle.md, "pinning").
        print(
            "! 未固定根证书：请核对上述指纹与省级发布的指纹一致，或使用 --pin / --store。\n"
            "! Root not pinned: check the fingerprint above against the published one, "
            "or use --pin / --store.",
            file=out,
        )


def main(
    argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """Run the verifier; returns the exit status."""
    out = stdout if stdout is not None else sys.stdout
    if out is sys.stdout and hasattr(out, "reconfigure"):
        # A counter PC's console may not be UTF-8 (GBK on Chinese Windows): replace what
        # it cannot show rather than crash after the verdict is known.
        out.reconfigure(errors="replace")
    args = _parser().parse_args(argv)
    try:
        bundle = _load_bundle(args)
        text = _qr_text(args.qr, stdin if stdin is not None else sys.stdin)
    except UsageError as exc:
        if args.json:
            print(json.dumps({"error": "usage", "detail": str(exc)}, ensure_ascii=False), file=out)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    now = args.now if args.now is not None else int(time.time())
    verdict = verify_text(text, bundle, now)
    holder_match = None
    if args.holder_id is not None and verdict.license is not None:
        holder_match = verdict.license.matches_holder(args.holder_id)
    if args.json:
        document = verdict_json(verdict, bundle, holder_match)
        print(json.dumps(document, ensure_ascii=False, sort_keys=True), file=out)
    else:
        pinned = args.pin is not None or args.store is not None
        _print_human(verdict, bundle, holder_match, out, pinned=pinned)
    if not verdict.is_valid or holder_match is False:
        return EXIT_NOT_VALID
    return EXIT_VALID
