"""Broken, odd and hostile image files, made on the spot."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def _photo(size: tuple[int, int] = (64, 96)) -> np.ndarray:
    rng = np.random.default_rng(5)
    image = rng.uniform(90, 160, (*size, 3)).astype(np.uint8)
    image[8:24, 10:30] = (240, 20, 20)
    return image


def zero_byte(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def text_as_image(path: Path) -> Path:
    path.write_text("this is not a picture\n")
    return path


def truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(_photo((128, 128))).save(buffer, format="JPEG", quality=90)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def bad_checksum_png(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(_photo()).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    idat = data.index(b"IDAT")
    data[idat + 8] ^= 0xFF  # corrupt the compressed data; the CRC no longer matches
    path.write_bytes(bytes(data))
    return path


def decompression_bomb(path: Path, side: int = 100_000) -> Path:
    """A PNG whose header claims side x side pixels: 10 billion, over Pillow's limit."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
    path.write_bytes(png + chunk(b"IEND", b""))
    return path


def mode_image(path: Path, mode: str) -> Path:
    """The test photo saved in a given Pillow mode (L, LA, RGBA, P, CMYK, I;16)."""
    img = Image.fromarray(_photo())
    if mode == "I;16":
        grey = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(grey).save(path)  # 16-bit PNG
    elif mode == "CMYK":
        img.convert("CMYK").save(path, format="JPEG", quality=95)
    elif mode == "P":
        img.convert("P", palette=Image.Palette.ADAPTIVE).save(path)
    else:
        img.convert(mode).save(path)
    return path


def exif_rotated_jpeg(path: Path) -> Path:
    """Stored landscape 96x64, EXIF orientation 6: a viewer shows it portrait 64x96."""
    img = Image.fromarray(_photo())
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


def animated_gif(path: Path) -> Path:
    frames = [Image.fromarray(_photo()), Image.fromarray(255 - _photo())]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def huge_jpeg(path: Path, size: tuple[int, int] = (4000, 6000)) -> Path:
    """A large but valid photo (24 MP) made of a few flat regions (fast to encode)."""
    img = Image.new("RGB", (size[1], size[0]), (120, 130, 140))
    img.paste((240, 20, 20), (500, 500, 1500, 1500))
    img.save(path, format="JPEG", quality=85)
    return path


def good_png(path: Path, size: tuple[int, int] = (64, 96)) -> Path:
    Image.fromarray(_photo(size)).save(path)
    return path


# (make the file in a folder, what the error line says), for parametrised tests.
BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "zero-byte": (lambda d: zero_byte(d / "empty.png"), "cannot read image (empty file)"),
    "text": (lambda d: text_as_image(d / "text.jpg"),
             "cannot read image (not a JPEG, PNG, BMP, GIF, TIFF or WebP file)"),
    "truncated-jpeg": (lambda d: truncated_jpeg(d / "cut.jpg"),
                       "cannot read image (image file is truncated"),
    "bad-crc-png": (lambda d: bad_checksum_png(d / "crc.png"), "cannot read image (broken data"),
    "bomb": (lambda d: decompression_bomb(d / "bomb.png"),
             "refused: over 89478485 pixels, a possible decompression bomb"),
}  # fmt: skip
