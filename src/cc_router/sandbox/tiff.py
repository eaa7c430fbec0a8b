"""A tiny fax page as an uncompressed bilevel TIFF, written without any imaging library.

The sandbox converts it to G3 with ``tiffcp`` inside the root; SendFax then sends it.
"""

from __future__ import annotations

import struct

WIDTH = 1728  # standard fax line: 1728 pixels (A4/letter at 204 dpi)
HEIGHT = 200
_BYTES_PER_ROW = WIDTH // 8


def _page() -> bytes:
    rows = bytearray()
    for y in range(HEIGHT):
        row = bytearray(_BYTES_PER_ROW)
        if 40 <= y < 160:
            # a few black bars so the page is not blank (WhiteIsZero: 1 bits are black)
            for x in range(10, _BYTES_PER_ROW - 10, 24):
                for i in range(8):
                    row[x + i] = 0xFF
        rows += row
    return bytes(rows)


def minimal_fax_tiff() -> bytes:
    """One page, 1728 x 200, 1 bit, uncompressed, 204 x 98 dpi (fax standard resolution)."""
    data = _page()
    entries: list[tuple[int, int, int, int]] = []  # tag, type, count, value/offset
    header_len = 8
    n_entries = 13
    ifd_len = 2 + n_entries * 12 + 4
    xres_off = header_len + ifd_len
    yres_off = xres_off + 8
    data_off = yres_off + 8
    short, long_, rational = 3, 4, 5
    entries = [
        (254, long_, 1, 2),  # NewSubfileType: page of a multi-page document
        (256, short, 1, WIDTH),  # ImageWidth
        (257, short, 1, HEIGHT),  # ImageLength
        (258, short, 1, 1),  # BitsPerSample
        (259, short, 1, 1),  # Compression: none
        (262, short, 1, 0),  # PhotometricInterpretation: WhiteIsZero
        (266, short, 1, 1),  # FillOrder
        (273, long_, 1, data_off),  # StripOffsets
        (277, short, 1, 1),  # SamplesPerPixel
        (278, short, 1, HEIGHT),  # RowsPerStrip
        (279, long_, 1, len(data)),  # StripByteCounts
        (282, rational, 1, xres_off),  # XResolution
        (283, rational, 1, yres_off),  # YResolution
    ]
    assert len(entries) == n_entries
    out = bytearray(b"II*\x00" + struct.pack("<I", header_len))
    out += struct.pack("<H", n_entries)
    for tag, typ, count, value in entries:
        if typ == short:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0)  # no next IFD
    out += struct.pack("<II", 204, 1)  # XResolution 204 dpi
    out += struct.pack("<II", 98, 1)  # YResolution 98 dpi
    out += data
    return bytes(out)
