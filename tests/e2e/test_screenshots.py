"""`make screenshots` still takes every picture the README shows, and each is a
real picture of a page: a valid PNG at the script's width, not one flat colour,
and no two alike.

Runs the script's ``take`` with the session's Chromium (pytest-playwright's
``browser``: a second Playwright in one process would clash with it) on the
test's own seeded database, into a temporary folder.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import struct
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest
from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BYTES_PER_PIXEL = {2: 3, 6: 4}  # colour type: RGB, RGBA (8 bits per channel)

# Counts the colours of the picture drawn on a canvas (the browser decodes it).
COUNT_COLOURS = """async (source) => {
  const image = new Image();
  image.src = source;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = new Uint32Array(
    context.getImageData(0, 0, image.width, image.height).data.buffer
  );
  return new Set(pixels).size;
}"""


def _script() -> ModuleType:
    """scripts/screenshots.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a complete, uncorrupted 8-bit PNG; AssertionError if it
    is not one (bad signature or CRC, no IEND, image data of the wrong size)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    assert b"IEND" in chunks, "truncated: no IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(
        ">IIBBBBB", chunks[b"IHDR"]
    )
    assert depth == 8 and colour in BYTES_PER_PIXEL and interlace == 0
    rows = zlib.decompress(chunks[b"IDAT"])
    # One filter byte per row, then the row's pixels: all of them are there.
    assert len(rows) == height * (1 + width * BYTES_PER_PIXEL[colour])
    return width, height


def _colours(browser: Browser, data: bytes) -> int:
    """How many colours the picture has, as Chromium decodes it."""
    page = browser.new_page()
    try:
        source = "data:image/png;base64," + base64.b64encode(data).decode()
        colours: int = page.evaluate(COUNT_COLOURS, source)
        return colours
    finally:
        page.close()


def test_screenshots_takes_every_picture_as_a_real_page(
    browser: Browser, db_url: str, tmp_path: Path
) -> None:
    script = _script()
    paths = script.take(browser, tmp_path / "shots", database_url=db_url)
    assert [path.name for path in paths] == [f"{name}.png" for name in script.SHOTS]
    assert sorted(path.name for path in (tmp_path / "shots").iterdir()) == sorted(
        path.name for path in paths
    )
    digests = set()
    for path in paths:
        data = path.read_bytes()
        width, height = _png_size(data)
        assert width == script.WIDTH, path.name
        assert height >= script.HEIGHT, path.name  # a full page, at least the window
        # A page has text, borders and anti-aliasing: far more than a few colours.
        assert _colours(browser, data) > 16, f"{path.name} is (nearly) blank"
        digests.add(hashlib.sha256(data).hexdigest())
    assert len(digests) == len(paths), "two pictures are the same"
