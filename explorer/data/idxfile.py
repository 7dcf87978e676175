"""One IDX file (MNIST's format), read and checked: gzip'd or not, magic number, dimensions, and a
body exactly as long as its header declares.

An IDX file is a 4-byte magic number (two zero bytes, a type code, 0x08 for unsigned bytes, and the
number of dimensions), one big-endian 32-bit size per dimension, then the values. Images are 3
dimensions (count, rows, columns), labels 1. Nothing is written: a .gz is decompressed as it is
read, so a failed read leaves nothing behind. Any fault raises `DatasetFileError` naming the file.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import torch

from explorer.data.checks import MOST_ITEMS, regular_file
from explorer.data.errors import DatasetFileError

UNSIGNED_BYTE = 0x08
CHUNK = 1 << 20  # bytes read at a time: memory follows what the file holds, not what its header claims


def _read_up_to(f, n: int) -> bytearray:
    """Up to ``n`` bytes from ``f``, fewer at its end (in chunks: a header may lie about ``n``)."""
    out = bytearray()
    while len(out) < n:
        chunk = f.read(min(CHUNK, n - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def read_idx_file(path: Path, item_shape: tuple[int, ...] = ()) -> torch.Tensor:
    """The uint8 values of the IDX file ``path`` (``.gz`` decompressed), shaped (count, *item_shape):
    ``(28, 28)`` for MNIST's images, ``()`` for labels. Raises `DatasetFileError` naming the file
    and its fault: empty, not gzip or a cut gzip stream, a magic number that is not IDX's for
    unsigned bytes in ``1 + len(item_shape)`` dimensions, other item dimensions, no items or more
    than `MOST_ITEMS`, or a body shorter or longer than the header declares.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "labels.gz"
        >>> _ = p.write_bytes(gzip.compress(struct.pack(">II", 0x801, 3) + bytes([4, 0, 9])))
        >>> read_idx_file(p).tolist()
        [4, 0, 9]
        >>> _ = p.write_bytes(gzip.compress(struct.pack(">II", 0x801, 5) + bytes([4, 0, 9])))
        >>> read_idx_file(p)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        explorer.data.errors.DatasetFileError: .../labels.gz: its header declares 5 labels (5 bytes) but 3 bytes follow it (3 whole labels)
    """
    kind = "images" if item_shape else "labels"
    try:
        regular_file(path)
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as f:
            return _read(f, path, kind, item_shape)
    except DatasetFileError:
        raise
    except (EOFError, zlib.error) as err:  # EOFError: the gzip stream stops before its end
        raise DatasetFileError(f"{path}: the gzip stream is cut short or damaged "
                               f"({type(err).__name__}: {err})") from err
    except gzip.BadGzipFile as err:
        raise DatasetFileError(f"{path}: not a gzip file, or a damaged one ({err})") from err
    except OSError as err:
        raise DatasetFileError(f"{path}: cannot be read ({type(err).__name__}: {err.strerror or err})") from err


def _read(f, path: Path, kind: str, item_shape: tuple[int, ...]) -> torch.Tensor:
    def fault(what: str) -> DatasetFileError:
        return DatasetFileError(f"{path}: {what}")

    ndim = 1 + len(item_shape)
    expected_magic = (UNSIGNED_BYTE << 8) | ndim
    magic = _read_up_to(f, 4)
    if not magic:
        raise fault("the file is empty")
    header_size = 4 * (1 + ndim)
    if len(magic) < 4:
        raise fault(f"ends inside its header ({len(magic)} of {header_size} bytes)")
    (value,) = struct.unpack(">I", magic)
    if value != expected_magic:
        if magic[:2] == b"\0\0" and magic[2] == UNSIGNED_BYTE:
            what = f"IDX with {magic[3]} dimensions"
        elif magic[:2] == b"\0\0" and 1 <= magic[3] <= 4:
            what = f"IDX of type 0x{magic[2]:02x}, not unsigned bytes"
        else:
            what = "not an IDX magic number"
        raise fault(f"magic number {value} (0x{value:08x}: {what}); IDX {kind} of unsigned bytes start "
                    f"with {expected_magic} (0x{expected_magic:08x})")
    sizes = _read_up_to(f, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise fault(f"ends inside its header ({4 + len(sizes)} of {header_size} bytes)")
    count, *dims = struct.unpack(f">{ndim}I", sizes)
    if tuple(dims) != tuple(item_shape):
        raise fault(f"its {kind} are {'×'.join(map(str, dims))}; MNIST's format holds "
                    f"{'×'.join(map(str, item_shape))}")
    if count == 0:
        raise fault(f"its header declares no {kind}")
    if count > MOST_ITEMS:
        raise fault(f"its header declares {count:,} {kind}; a dataset file here holds at most {MOST_ITEMS:,}")
    item = math.prod(item_shape)
    size = count * item
    body = _read_up_to(f, size + 1)
    if len(body) < size:
        raise fault(f"its header declares {count:,} {kind} ({size:,} bytes) but {len(body):,} bytes follow it "
                    f"({len(body) // item:,} whole {kind})")
    if len(body) > size:
        raise fault(f"more bytes follow the {count:,} {kind} its header declares ({size:,} bytes)")
    return torch.frombuffer(body, dtype=torch.uint8).view(count, *item_shape)
