"""The on-disk cache under `<project root>/.jobkit-lint-cache/`.

One JSON file maps each path to its content hash, its module summary and the findings of the
last run with the key they were computed under. Entries are reused only when the key (content
hash + linter version + config digest + project-index digest) matches exactly, and the whole
file only when it was written by the same linter code and libcst: a development checkout or a
patched install keeps its version number while its rules change.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

__all__ = ["CACHE_DIR", "Cache"]

CACHE_DIR = ".jobkit-lint-cache"
# 2: findings carry a fingerprint; 3: module summaries carry `registered` (arq/SAQ job lists).
_FORMAT = 3


@functools.cache
def stamp() -> str:
    """The cache format, with a digest of the linter's own source and libcst's version."""
    digest = hashlib.blake2b(version("libcst").encode(), digest_size=16)
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{_FORMAT}:{digest.hexdigest()}"


class Cache:
    """Load once, update in memory, write atomically once."""

    def __init__(self, root: Path, *, enabled: bool = True) -> None:
        self.path = root / CACHE_DIR / "cache.json"
        self.enabled = enabled
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if enabled:
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # a missing or corrupt cache is just a cold run
        if isinstance(data, dict) and data.get("format") == stamp():
            entries = data.get("entries")
            if isinstance(entries, dict):
                self.entries = entries

    def get(self, path: str, digest: str) -> dict[str, Any] | None:
        """The entry for `path` if its content hash still matches."""
        entry = self.entries.get(path)
        return entry if entry is not None and entry.get("hash") == digest else None

    def put(self, path: str, entry: dict[str, Any]) -> None:
        """Replace the entry for `path`."""
        if self.enabled:
            self.entries[path] = entry
            self.dirty = True

    def save(self) -> None:
        """Write the cache atomically; failure to write never fails the lint run."""
        if not (self.enabled and self.dirty):
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.path.parent / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n", encoding="utf-8")
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"format": stamp(), "entries": self.entries}, handle)
            os.replace(temporary, self.path)
