"""Fuzz campaign of the license decoder and the offline verifier.

    python bench/fuzz_verify.py --count 100000 [--seed N] [--json]

Feeds hostile QR texts — mutated test vectors (text, bytes, CBOR structure, some
re-signed with the test key so they reach every check), random text and random bytes
behind valid prefixes — to ``verify.verifier.verify_text`` and checks that each gives
a verdict and nothing else: no stray exception, and no input slower than a bound that
would mean a hang. tests/verify/test_fuzz.py runs the same mutators under hypothesis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import cbor2

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from verify import cose  # noqa: E402
from verify.bundle import TrustBundle  # noqa: E402
from verify.decode import decode  # noqa: E402
from verify.errors import MalformedLicense  # noqa: E402
from verify.license import PREFIX_PLAIN, PREFIX_ZLIB  # noqa: E402
from verify.rfc9285 import ALPHABET, b45decode, b45encode  # noqa: E402
from verify.verifier import Verdict, verify_text  # noqa: E402

VECTORS = ROOT / "tests" / "vectors" / "license"
NOW = 1_780_358_400  # the vectors' "now"

# Values that break one claim or header in interesting ways.
_ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    23,
    24,
    255,
    2**31,
    2**32,
    2**40,
    2**63,
    2**64 - 1,
    -(2**64),
    1.5,
    float("nan"),
    float("inf"),
    -0.0,
    "",
    "x",
    "x" * 2000,
    "\u0000",
    "\ud7ff",
    "张三",
    b"",
    b"\x00" * 8,
    b"\xff" * 32,
    b"\x00" * 10_000,
    [],
    [1, [2, [3]]],
    {},
    {"a": {"b": 1}},
    {1: 2},
    cbor2.CBORTag(1, 0),
    cbor2.CBORTag(18, []),
    cbor2.CBORTag(2, b"\x01" * 40),
    cbor2.CBORSimpleValue(99),
    cbor2.undefined,
]


def _cose_bytes(text: str) -> bytes:
    if text.startswith(PREFIX_ZLIB):
        return zlib.decompress(b45decode(text[len(PREFIX_ZLIB) :]))
    return b45decode(text[len(PREFIX_PLAIN) :])


def _wrap(rng: random.Random, data: bytes) -> str:
    if rng.random() < 0.5:
        return PREFIX_ZLIB + b45encode(zlib.compress(data))
    return PREFIX_PLAIN + b45encode(data)


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            buf.append(rng.randrange(256))
        op = rng.randrange(6)
        i = rng.randrange(len(buf))
        if op == 0:
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[i] = rng.choice((0x00, 0x1B, 0x3B, 0x5B, 0x7B, 0x9B, 0xBB, 0xDB, 0xFF, 0x9F))
        elif op == 2:
            del buf[i : i + rng.randint(1, 16)]
        elif op == 3:
            buf[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 4:
            j = rng.randrange(len(buf))
            buf[i:i] = buf[j : j + rng.randint(1, 32)]
        else:
            del buf[i:]
    return bytes(buf)


def _mutate_text(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        if not chars:
            chars.append(rng.choice(ALPHABET))
        i = rng.randrange(len(chars))
        op = rng.randrange(4)
        if op == 0:
            chars[i] = rng.choice(ALPHABET + "abc\n\t\u00e9\u4e00")
        elif op == 1:
            del chars[i : i + rng.randint(1, 5)]
        elif op == 2:
            chars[i:i] = rng.choices(ALPHABET, k=rng.randint(1, 5))
        else:
            del chars[i:]
    return "".join(chars)


def _mutate_structure(rng: random.Random, data: bytes, resign: bool) -> bytes:
    parts = list(cbor2.loads(data).value)
    target = rng.randrange(5)
    if target < 3:
        claims = cbor2.loads(parts[2])
        key = rng.choice([*range(0, 14), 99, -1])
        if rng.random() < 0.2:
            claims.pop(key, None)
        else:
            claims[key] = rng.choice(_ODD_VALUES)
        parts[2] = cbor2.dumps(claims)
    elif target == 3:
        header = cbor2.loads(parts[0])
        header[rng.choice([1, 3, 4, 5, -1])] = rng.choice(_ODD_VALUES)
        parts[0] = cbor2.dumps(header)
    else:
        parts[rng.randrange(4)] = rng.choice(_ODD_VALUES)
    if resign and isinstance(parts[0], bytes) and isinstance(parts[2], bytes):
        from tests.vectors.license.make_vectors import test_key

        parts[3] = test_key("department").sign_raw(cose.sig_structure(parts[0], parts[2]))
    return cbor2.dumps(cbor2.CBORTag(18, parts))


def mutate(rng: random.Random, seeds: list[str], *, resign: bool = True) -> str:
    """One hostile QR text derived from ``seeds`` (the QR texts of the vectors)."""
    seed = rng.choice(seeds)
    kind = rng.random()
    try:
        raw = _cose_bytes(seed)
    except (MalformedLicense, zlib.error):
        return _mutate_text(rng, seed)
    if kind < 0.45:
        return _wrap(rng, _mutate_bytes(rng, raw))
    if kind < 0.65:
        return _mutate_text(rng, seed)
    if kind < 0.85:
        try:
            return _wrap(rng, _mutate_structure(rng, raw, resign and rng.random() < 0.3))
        except Exception:  # the seed itself is malformed at the CBOR level
            return _wrap(rng, _mutate_bytes(rng, raw))
    if kind < 0.93:
        return _wrap(rng, rng.randbytes(rng.randint(0, 800)))
    return "".join(rng.choices(ALPHABET + "abc:\n", k=rng.randint(0, 800)))


def mutations(seeds: list[str]) -> Any:
    """A hypothesis strategy drawing from :func:`mutate` (signatures not recomputed)."""
    from hypothesis import strategies as st

    return st.builds(
        lambda rng: mutate(rng, seeds, resign=False), st.randoms(use_true_random=False)
    )


def check_one(text: str, bundle: TrustBundle, now: int = NOW) -> Verdict:
    """Decode and verify ``text``; anything but a License/MalformedLicense and a Verdict fails."""
    with contextlib.suppress(MalformedLicense):
        decode(text)
    verdict = verify_text(text, bundle, now)
    assert isinstance(verdict, Verdict)
    return verdict


def load_vectors() -> tuple[list[str], TrustBundle]:
    document = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
    bundle = TrustBundle.load(
        (VECTORS / document["bundle"]).read_bytes(),
        pinned_root=bytes.fromhex(document["pinned_root"]),
    )
    return [v["qr"] for v in document["vectors"]], bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    seeds, bundle = load_vectors()
    rng = random.Random(args.seed)
    verdicts: Counter[str] = Counter()
    slowest, started = 0.0, time.perf_counter()
    for n in range(args.count):
        text = mutate(rng, seeds)
        t0 = time.perf_counter()
        try:
            verdict = check_one(text, bundle)
        except Exception as exc:
            print(f"input #{n} raised {exc!r}: {text!r}", file=sys.stderr)
            return 1
        slowest = max(slowest, time.perf_counter() - t0)
        verdicts[verdict.state.value] += 1
    elapsed = time.perf_counter() - started
    result = {
        "inputs": args.count,
        "seed": args.seed,
        "stray_exceptions": 0,
        "seconds": round(elapsed, 1),
        "slowest_input_ms": round(slowest * 1000, 2),
        "verdicts": dict(sorted(verdicts.items())),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'inputs':<24}{args.count:>12}")
        print(f"{'stray exceptions':<24}{0:>12}")
        print(f"{'seconds':<24}{elapsed:>12.1f}")
        print(f"{'slowest input (ms)':<24}{slowest * 1000:>12.2f}")
        for state, count in sorted(verdicts.items()):
            print(f"  {state:<22}{count:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
