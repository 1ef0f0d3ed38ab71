"""SM2 sign/verify throughput of each keys.sm2 backend beside `openssl speed sm2`.

Both are measured in the same run, per CPU-second of user time (what `openssl speed`
reports unless given -elapsed), on one core, over 20-byte messages (what
`openssl speed` signs) with the default signer ID. Our figures go through the public
API (SM2PrivateKey.sign / SM2PublicKey.verify), so they include every per-call cost a
caller pays. The ratio columns are ours / openssl speed.

The run is split into rounds of one second per figure; within each round
`openssl speed` and our backends run back to back, so that load from other processes
hits both alike. The table shows the median of each figure over the rounds, and each
ratio is the median of the per-round ratios (a paired comparison); the JSON output
also has the best round and every round.

    .venv/bin/python bench/sm2.py [--seconds N] [--json] [--backend openssl|python]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from keys import sm2
from keys.sm2 import SM2PrivateKey

MESSAGE = bytes(range(20))
_SPEED_LINE = re.compile(r"SM2 \(CurveSM2\)\s+([0-9.]+)s\s+([0-9.]+)s\s+([0-9.]+)\s+([0-9.]+)")


def openssl_speed(seconds: int) -> tuple[dict[str, float], str]:
    """Run `openssl speed -seconds N sm2` and parse its sign/s and verify/s."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("bench/sm2.py: the openssl command line is needed as reference")
    result = subprocess.run(
        [openssl, "speed", "-seconds", str(seconds), "sm2"],
        capture_output=True,
        text=True,
        check=True,
    )
    match = _SPEED_LINE.search(result.stdout)
    if match is None:
        raise SystemExit(f"bench/sm2.py: cannot parse openssl speed output:\n{result.stdout}")
    version = subprocess.run(
        [openssl, "version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    figures = {"sign_per_s": float(match.group(3)), "verify_per_s": float(match.group(4))}
    return figures, version


def _user_cpu() -> float:
    # getrusage has microsecond resolution; os.times() counts 10 ms clock ticks.
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per CPU-second (user time) of ``operation``, run for ``seconds``.

    `openssl speed` divides by user CPU time too (unless given -elapsed), which keeps
    both figures comparable on a machine that other processes are also using.
    """
    operation()  # warm up: first-call costs (imports, fetches) are not throughput
    count = 0
    batch = 1
    deadline = time.monotonic() + seconds
    start = _user_cpu()
    while True:
        for _ in range(batch):
            operation()
        count += batch
        if time.monotonic() >= deadline:
            return count / max(_user_cpu() - start, 1e-3)
        batch = min(batch * 2, 256)


def measure(backend: str, seconds: float) -> dict[str, float]:
    key = SM2PrivateKey.generate(backend=backend)
    public = key.public_key()
    signature = key.sign(MESSAGE)
    public.verify(signature, MESSAGE)
    return {
        "sign_per_s": rate(lambda: key.sign(MESSAGE), seconds),
        "verify_per_s": rate(lambda: public.verify(signature, MESSAGE), seconds),
    }


def summarise(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Median and best of each figure over the rounds."""
    summary: dict[str, float] = {}
    for name in ("sign_per_s", "verify_per_s"):
        values = [r[name] for r in rounds]
        summary[name] = statistics.median(values)
        summary[name.replace("_per_s", "_best_per_s")] = max(values)
    return summary


def paired_ratio(
    ours: list[dict[str, float]], reference: list[dict[str, float]], name: str
) -> float:
    """Median over the rounds of ours / reference, each measured in the same round."""
    return statistics.median(o[name] / r[name] for o, r in zip(ours, reference, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=int, default=5, help="rounds of one second per figure (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--backend", action="append", choices=sm2.BACKENDS, help="default: both")
    args = parser.parse_args(argv)
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    backends = args.backend or list(sm2.BACKENDS)

    reference_rounds: list[dict[str, float]] = []
    backend_rounds: dict[str, list[dict[str, float]]] = {b: [] for b in backends}
    version = ""
    for _ in range(args.seconds):
        figures, version = openssl_speed(1)
        reference_rounds.append(figures)
        for backend in backends:
            backend_rounds[backend].append(measure(backend, 1.0))
    reference = summarise(reference_rounds)
    results: dict[str, dict[str, float]] = {}
    for backend in backends:
        rounds = backend_rounds[backend]
        figures = summarise(rounds)
        figures["sign_ratio"] = paired_ratio(rounds, reference_rounds, "sign_per_s")
        figures["verify_ratio"] = paired_ratio(rounds, reference_rounds, "verify_per_s")
        results[backend] = figures

    if args.json:
        print(
            json.dumps(
                {
                    "benchmark": "sm2",
                    "seconds": args.seconds,
                    "rounds": args.seconds,
                    "message_bytes": len(MESSAGE),
                    "default_backend": sm2.backend_name(),
                    "reference": {"tool": "openssl speed sm2", "version": version, **reference},
                    "backends": results,
                    "round_figures": {"openssl speed": reference_rounds, **backend_rounds},
                },
                sort_keys=True,
            )
        )
        return 0

    print(
        f"SM2 (GB/T 32918.2, SM3, ID {sm2.DEFAULT_ID.decode()}), {len(MESSAGE)}-byte"
        f" messages; median of {args.seconds} interleaved 1-second rounds;"
        f" reference: {version}"
    )
    header = f"{'':<22}{'sign/s':>10}{'verify/s':>10}{'sign %':>9}{'verify %':>10}"
    print(header)
    print("-" * len(header))
    print(
        f"{'openssl speed sm2':<22}{reference['sign_per_s']:>10.1f}"
        f"{reference['verify_per_s']:>10.1f}{'100.0':>9}{'100.0':>10}"
    )
    for backend, figures in results.items():
        print(
            f"{'keys.sm2 ' + backend:<22}{figures['sign_per_s']:>10.1f}"
            f"{figures['verify_per_s']:>10.1f}{100 * figures['sign_ratio']:>9.1f}"
            f"{100 * figures['verify_ratio']:>10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
