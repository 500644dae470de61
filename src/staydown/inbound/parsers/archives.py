"""Open the archives senders attach (ZIP, gzip, bzip2, xz, tar and their combinations) within bounds.

Bulk senders zip their CSV lists and ACNS documents, and forward earlier notices as ``.eml`` files
in an archive. An archive is also the oldest way to make a reader spend unbounded memory and time
(a zip bomb), so every step is bounded before it is taken, never after: the number of files across
all the archives of one message, the bytes they expand to together, and how many times a file
expands its compressed size. ZIP states each file's sizes before it is read (and Python's reader
never returns more than the stated size), so a ZIP bomb is refused without inflating anything; a
gzip, bzip2 or xz stream states nothing trustworthy and is inflated a bounded piece at a time.
Exceeding a bound refuses the message with the bound named (:class:`Refused`); an archive that is
damaged, encrypted or of a kind not read (RAR, 7z) is left unopened with the problem named
(:class:`Unreadable`), for a person. Pure functions over bytes: no files, no network.
"""

from __future__ import annotations

import bz2
import enum
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from staydown.inbound.parsers.base import Limits

CHUNK = 1 << 20
# Below this, a high ratio is ordinary (a short, repetitive CSV); a bomb must expand far beyond it.
RATIO_FLOOR = 1 << 20


class Kind(enum.StrEnum):
    """The archive and compression formats opened."""

    zip = "zip"
    gzip = "gzip"
    bzip2 = "bzip2"
    xz = "xz"
    tar = "tar"


class Refused(Exception):
    """An archive beyond a bound: the whole message is refused with this reason."""


class Unreadable(Exception):
    """An archive that cannot be opened (damaged, encrypted, an unsupported method)."""


@dataclass(frozen=True, slots=True)
class Member:
    """A file taken out of an archive: its path (``archive/inner``) and its bytes."""

    name: str
    data: bytes


@dataclass(slots=True)
class Budget:
    """What the archives of one message have used so far, against the message's limits."""

    limits: Limits
    members: int = 0
    bytes: int = 0

    def take_member(self, archive: str) -> None:
        self.members += 1
        if self.members > self.limits.max_archive_members:
            raise Refused(
                f"the archives in the message hold more than {self.limits.max_archive_members} files "
                f"(reached in {archive})"
            )

    def take_bytes(self, archive: str, size: int) -> None:
        if self.bytes + size > self.limits.max_archive_bytes:
            raise Refused(
                f"the archives in the message expand to more than {self.limits.max_archive_bytes} bytes "
                f"(reached in {archive})"
            )
        self.bytes += size

    def check_ratio(self, archive: str, expanded: int, compressed: int) -> None:
        ratio = self.limits.max_compression_ratio
        if expanded > RATIO_FLOOR and expanded > ratio * max(compressed, 1):
            raise Refused(
                f"{archive} is a compression bomb: it expands more than {ratio} times "
                f"({compressed} bytes to over {expanded})"
            )


_ZIP_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip")
_BY_TYPE = {
    "application/gzip": Kind.gzip,
    "application/x-gzip": Kind.gzip,
    "application/x-bzip2": Kind.bzip2,
    "application/x-xz": Kind.xz,
    "application/x-tar": Kind.tar,
}
_BY_SUFFIX = (
    (".zip", Kind.zip),
    (".gz", Kind.gzip),
    (".tgz", Kind.gzip),
    (".bz2", Kind.bzip2),
    (".tbz2", Kind.bzip2),
    (".xz", Kind.xz),
    (".txz", Kind.xz),
    (".tar", Kind.tar),
)
# Named by senders but not read here: a person opens them.
UNOPENED_SUFFIXES = (".rar", ".7z")


def _magic(data: bytes) -> Kind | None:
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Kind.zip
    if data.startswith(b"\x1f\x8b"):
        return Kind.gzip
    if data.startswith(b"BZh"):
        return Kind.bzip2
    if data.startswith(b"\xfd7zXZ\x00"):
        return Kind.xz
    if data[257:262] == b"ustar":
        return Kind.tar
    return None


def kind_of(filename: str, content_type: str, data: bytes) -> Kind | None:
    """The archive an attachment is, when its name or type says archive and its bytes agree.

    Both are asked: an ``.xlsx`` is a ZIP by its bytes but no archive a sender meant to send, and a
    file named ``.zip`` that is not one is left as it is."""
    name = filename.lower()
    said = _BY_TYPE.get(content_type) or (Kind.zip if content_type in _ZIP_TYPES else None)
    for suffix, kind in _BY_SUFFIX:
        if name.endswith(suffix):
            said = kind
            break
    if said is None:
        return None
    found = _magic(data)
    if found is None:
        return None
    if said is Kind.tar or found is Kind.tar:  # a tar is named so only when not compressed
        return found
    return found if found is said else None


def is_archive_name(filename: str) -> bool:
    """Whether a file's name says it is an archive (opened or not)."""
    name = filename.lower()
    return name.endswith(UNOPENED_SUFFIXES) or any(name.endswith(suffix) for suffix, _ in _BY_SUFFIX)


def open_archive(name: str, kind: Kind, data: bytes, budget: Budget) -> list[Member]:
    """The files in an archive, within the budget; raise :class:`Refused` or :class:`Unreadable`."""
    if kind is Kind.zip:
        return _unzip(name, data, budget)
    if kind is Kind.tar:
        return _untar(name, data, budget)
    expanded = _inflate(name, kind, data, budget)
    if expanded[257:262] == b"ustar":  # .tar.gz and its kin are one archive
        budget.bytes -= len(expanded)  # counted again file by file
        return _untar(name, expanded, budget)
    budget.take_member(name)
    return [Member(_strip_suffix(name), expanded)]


def _strip_suffix(name: str) -> str:
    lowered = name.lower()
    for suffix, replacement in ((".tgz", ".tar"), (".tbz2", ".tar"), (".txz", ".tar")):
        if lowered.endswith(suffix):
            return name[: -len(suffix)] + replacement
    for suffix in (".gz", ".bz2", ".xz"):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _zip_entries(data: bytes) -> int | None:
    """The file count a ZIP's end record states (None if it has none, or defers to ZIP64)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end == -1 or end + 22 > len(data):
        return None
    total = int(struct.unpack_from("<H", data, end + 10)[0])
    return None if total == 0xFFFF else total


def _unzip(name: str, data: bytes, budget: Budget) -> list[Member]:
    stated = _zip_entries(data)
    if stated is not None and budget.members + stated > budget.limits.max_archive_members:
        raise Refused(
            f"the archives in the message hold more than {budget.limits.max_archive_members} files "
            f"({name} alone states {stated})"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise Unreadable(f"{name} is not a readable ZIP archive ({exc})") from None
    members = []
    with archive:
        for info in infos:
            if info.is_dir():
                continue
            budget.take_member(name)
            inner = f"{name}/{info.filename[:200]}"
            if info.flag_bits & 0x1:
                raise Unreadable(f"{name} is encrypted")
            budget.check_ratio(inner, info.file_size, info.compress_size)
            budget.take_bytes(inner, info.file_size)
            try:
                with archive.open(info) as opened:
                    content = opened.read(info.file_size + 1)
            except (
                zipfile.BadZipFile,
                NotImplementedError,
                ValueError,
                OSError,
                EOFError,
                zlib.error,
            ) as exc:
                raise Unreadable(f"{inner} cannot be read ({exc})") from None
            if len(content) > info.file_size:  # never, by the reader's own bound; stated for the record
                raise Refused(f"{inner} is larger than its archive states")
            members.append(Member(inner, content))
    return members


def _untar(name: str, data: bytes, budget: Budget) -> list[Member]:
    members = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            while (info := archive.next()) is not None:
                budget.take_member(name)
                if not info.isreg() or info.issparse():  # links, devices; sparse files expand
                    continue
                inner = f"{name}/{info.name[:200]}"
                budget.take_bytes(inner, info.size)
                extracted = archive.extractfile(info)
                if extracted is not None:
                    members.append(Member(inner, extracted.read(info.size)))
    except tarfile.TarError as exc:
        raise Unreadable(f"{name} is not a readable tar archive ({exc})") from None
    return members


def _pieces(kind: Kind, data: bytes) -> Iterator[bytes]:
    """The inflated stream a bounded piece at a time (never more than ``CHUNK`` at once)."""
    if kind is Kind.gzip:
        inflater = zlib.decompressobj(wbits=31)
        pending = data
        while not inflater.eof:
            piece = inflater.decompress(pending, CHUNK)
            pending = inflater.unconsumed_tail
            if not piece and not pending:
                raise Unreadable("the gzip stream ends early")
            yield piece
        return
    decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor = (
        bz2.BZ2Decompressor() if kind is Kind.bzip2 else lzma.LZMADecompressor()
    )
    yield decompressor.decompress(data, CHUNK)
    while not decompressor.eof:
        if decompressor.needs_input:
            raise Unreadable(f"the {kind.value} stream ends early")
        yield decompressor.decompress(b"", CHUNK)


def _inflate(name: str, kind: Kind, data: bytes, budget: Budget) -> bytes:
    out: list[bytes] = []
    size = 0
    errors: tuple[type[Exception], ...] = (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError)
    try:
        for piece in _pieces(kind, data):
            size += len(piece)
            budget.check_ratio(name, size, len(data))
            budget.take_bytes(name, len(piece))
            out.append(piece)
    except Unreadable as exc:
        raise Unreadable(f"{name}: {exc}") from None
    except errors as exc:
        raise Unreadable(f"{name} is not a readable {kind.value} stream ({exc})") from None
    return b"".join(out)
