#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/NAME/).

Run from tests/fuzz with python3. Seeds are small (a few hundred bytes at
most), so that libFuzzer's default input size stays small and each run is
fast. The model seeds are real model files written by the vae program (see
corpus/model/README); this script does not touch them.
"""
import os
import struct
import zlib


def gz(data, level=9, strategy=zlib.Z_DEFAULT_STRATEGY):
    c = zlib.compressobj(level, zlib.DEFLATED, 31, 8, strategy)
    return c.compress(data) + c.flush()


def raw_deflate(data, level=9, strategy=zlib.Z_DEFAULT_STRATEGY):
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    return c.compress(data) + c.flush()


def idx(type_code, dims, values):
    fmt = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}[type_code]
    head = struct.pack(">BBBB", 0, 0, type_code, len(dims)) + struct.pack(">%dI" % len(dims), *dims)
    return head + struct.pack(">%d%s" % (len(values), fmt), *values)


def write(folder, name, data):
    os.makedirs(os.path.join("corpus", folder), exist_ok=True)
    with open(os.path.join("corpus", folder, name), "wb") as f:
        f.write(data)


def main():
    # IDX: every type, images and labels, plain and gzip.
    write("idx", "ubyte-images", idx(0x08, [3, 2, 4], [(i * 37) % 256 for i in range(24)]))
    write("idx", "ubyte-images.gz", gz(idx(0x08, [3, 2, 4], [(i * 37) % 256 for i in range(24)])))
    write("idx", "ubyte-labels", idx(0x08, [10], list(range(10))))
    write("idx", "byte-images", idx(0x09, [2, 2, 2], [0, 1, 2, 127, 5, 6, 7, 8]))
    write("idx", "short-images", idx(0x0B, [1, 3, 2], [0, 100, 32767, 5, 6, 7]))
    write("idx", "int-labels", idx(0x0C, [4], [0, 3, 255, 9]))
    write("idx", "float-images", idx(0x0D, [2, 2, 2], [i / 7 for i in range(8)]))
    write("idx", "double-images.gz", gz(idx(0x0E, [1, 2, 3], [i / 5 for i in range(6)])))
    write("idx", "rgb-4d", idx(0x08, [2, 2, 2, 3], list(range(24))))
    write("idx", "five-dims", idx(0x0D, [1, 2, 1, 2, 2], [0.5] * 8))
    # The longest header (255 sizes, 1,024 bytes), so that the gzip file
    # inflates past the 1,024-byte prefix the reader decodes first.
    big = idx(0x08, [1] * 253 + [4, 5], list(range(20)))
    write("idx", "many-dims.gz", gz(big))

    # inflate: gzip and raw deflate of short texts, every block type.
    text = b"the quick brown fox jumps over the lazy dog; " * 6 + bytes(range(40))
    write("inflate", "dynamic.gz", gz(text))
    write("inflate", "fixed.gz", gz(text, 9, zlib.Z_FIXED))
    write("inflate", "stored.gz", gz(text[:100], 0))
    write("inflate", "rle.gz", gz(b"a" * 300 + b"b" * 300, 9, zlib.Z_RLE))
    write("inflate", "two-members.gz", gz(b"first\n") + gz(b"second\n", 1))
    write("inflate", "raw-dynamic", raw_deflate(text))
    write("inflate", "raw-fixed", raw_deflate(text, 9, zlib.Z_FIXED))
    write("inflate", "empty.gz", gz(b""))

    # Netpbm: every kind, comments, 16 bits, several images.
    write("pnm", "p5.pgm", b"P5\n4 2\n255\n" + bytes(range(0, 255, 32)))
    write("pnm", "p6.ppm", b"P6 2 2 255\n" + bytes(range(12)))
    write("pnm", "p2.pgm", b"P2\n# feep\n3 2\n15\n0 3 7\n11 15 1\n")
    write("pnm", "p3.ppm", b"P3 2 1 255\n255 0 0  0 128 255\n")
    write("pnm", "p5-16bit.pgm", b"P5 2 2 65535\n" + struct.pack(">4H", 0, 258, 65535, 1000))
    write("pnm", "p6-16bit.ppm", b"P6 1 1 1000\n" + struct.pack(">3H", 1000, 500, 1))
    write("pnm", "p5-three.pgm", b"P5 2 1 255\n\x00\xffP5 2 1 255\n\x10\x20\nP5\n2 1\n255\n\x30\x40")
    write("pnm", "p5-mixed-maxval.pgm", b"P5 2 1 255\n\x00\xffP5 2 1 1000\n\x03\xe8\x00\x64")
    write("pnm", "p5-comments.pgm", b"P5\r\n#c1\r\n2#c2\r\n2\r\n255\n\x01\x02\x03\x04")


if __name__ == "__main__":
    main()
