"""A tiny parser for the test-vector files under ``tests/vectors/``.

Each file opens with ``#`` comment lines, one of which starts ``# Source:`` and names
the document and clause the values come from. Then come blocks of ``name = value``
lines separated by blank lines; values are hexadecimal unless the name ends in
``_ascii`` (then the text after ``=`` is taken verbatim, stripped at both ends).
"""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def load(relative: str) -> list[dict[str, bytes]]:
    """Parse ``tests/vectors/<relative>`` into one dict per block."""
    text = (VECTORS / relative).read_text(encoding="utf-8")
    if not any(line.startswith("# Source:") for line in text.splitlines()):
        raise ValueError(f"{relative}: no '# Source:' header naming the vectors' origin")
    blocks: list[dict[str, bytes]] = []
    current: dict[str, bytes] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if not line:
            if current:
                blocks.append(current)
                current = {}
            continue
        name, separator, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not separator or not name or name in current:
            raise ValueError(f"{relative}:{number}: expected a new 'name = value'")
        if name.endswith("_ascii"):
            current[name.removesuffix("_ascii")] = value.encode("ascii")
        else:
            current[name] = bytes.fromhex(value)
    if current:
        blocks.append(current)
    if not blocks:
        raise ValueError(f"{relative}: no vectors")
    return blocks
