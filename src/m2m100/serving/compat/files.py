"""Translated files kept for download (LibreTranslate's ``/translate_file`` answers a URL, and the
client fetches the file from it): a folder of its own, bounded in files and bytes, each file
deleted when it expires or when room is needed (oldest first)."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path


class FileStore:
    """Files by unguessable name, kept ``expiry`` seconds at most.

    Args:
        max_files: files kept at once (the oldest goes first).
        max_bytes: bytes kept at once (the oldest go first; a larger file is refused).
        expiry: seconds a file can be downloaded after it was stored.
    """

    def __init__(self, *, max_files: int = 64, max_bytes: int = 256 * 2**20, expiry: float = 1800.0) -> None:
        if max_files < 1 or max_bytes < 1 or expiry <= 0:
            raise ValueError(
                f"max_files, max_bytes and expiry must be positive, got {max_files}, {max_bytes}, {expiry}"
            )
        self.max_files, self.max_bytes, self.expiry = max_files, max_bytes, expiry
        self.folder = Path(tempfile.mkdtemp(prefix="m2m100-files-"))
        self._kept: dict[str, tuple[float, int]] = {}  # name -> (stored at, bytes), oldest first
        self._lock = threading.Lock()

    def put(self, filename: str, data: bytes) -> str:
        """Keep ``data``; its name in the store (a random part, then ``filename`` made safe).

        Raises:
            ValueError: ``data`` is over ``max_bytes``.
        """
        if len(data) > self.max_bytes:
            raise ValueError(f"the file is {len(data)} bytes; at most {self.max_bytes} are kept")
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename.replace("\\", "/")).name)[-100:] or "file"
        name = f"{uuid.uuid4().hex}.{safe}"
        with self._lock:
            self._expire(time.monotonic())
            while self._kept and (
                len(self._kept) >= self.max_files
                or sum(size for _, size in self._kept.values()) + len(data) > self.max_bytes
            ):
                self._delete(next(iter(self._kept)))
            (self.folder / name).write_bytes(data)
            self._kept[name] = (time.monotonic(), len(data))
        return name

    def path(self, name: str) -> Path | None:
        """Where the file ``name`` is, or None when there is none (never stored, or expired)."""
        with self._lock:
            self._expire(time.monotonic())
            return self.folder / name if name in self._kept else None

    def close(self) -> None:
        """Delete every file and the folder."""
        with self._lock:
            self._kept.clear()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _expire(self, now: float) -> None:
        for name in [n for n, (stored, _) in self._kept.items() if now - stored > self.expiry]:
            self._delete(name)

    def _delete(self, name: str) -> None:
        self._kept.pop(name, None)
        (self.folder / name).unlink(missing_ok=True)
