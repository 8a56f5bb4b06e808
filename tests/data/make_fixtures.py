#!/usr/bin/env python3
"""Regenerates the fixtures of tests/check_io.c (see README in this folder).

Run from tests/data with python3 and GNU gzip on PATH. The uncompressed
sample is never committed: tests/check_io.c rebuilds it with the same
generator (sample_bytes there) and compares the decompressed fixtures to it.
"""
import os
import struct
import subprocess
import zlib

WORDS = [b"the ", b"quick ", b"brown ", b"fox ", b"jumps ", b"over ", b"lazy ", b"dog ",
         b"vae ", b"encoder ", b"decoder ", b"latent ", b"pixel ", b"gzip ", b"\n", b"mnist "]


def sample_bytes(n=100000):
    """Structured pseudo-random bytes: words, runs and random bytes from an LCG."""
    s = 12345
    out = bytearray()

    def nxt():
        nonlocal s
        s = (s * 1103515245 + 12345) & 0xFFFFFFFF
        return s >> 16

    while len(out) < n:
        r = nxt()
        kind = r & 15
        if kind == 0:
            for _ in range(1 + ((r >> 4) & 31)):
                out.append(nxt() & 0xFF)
        elif kind == 1:
            out += bytes([(r >> 4) & 0xFF]) * (3 + ((r >> 12) & 7) * 40)
        else:
            out += WORDS[(r >> 4) & 15]
    return bytes(out[:n])


def gzip_cli(args, data):
    return subprocess.run(["gzip"] + args, input=data, stdout=subprocess.PIPE, check=True).stdout


def zlib_gzip(data, level, strategy=zlib.Z_DEFAULT_STRATEGY):
    c = zlib.compressobj(level, zlib.DEFLATED, 31, 8, strategy)
    return c.compress(data) + c.flush()


def idx_images(count, rows, cols):
    pix = bytes((i * 31 + r * 7 + c * 3) & 0xFF
                for i in range(count) for r in range(rows) for c in range(cols))
    return struct.pack(">IIII", 0x803, count, rows, cols) + pix


def idx_labels(count):
    return struct.pack(">II", 0x801, count) + bytes(i % 10 for i in range(count))


def main():
    data = sample_bytes()
    # gzip -1 -n: fastest level, no name/time stored (plain 10-byte header).
    open("sample-1.gz", "wb").write(gzip_cli(["-1", "-n", "-c"], data))
    # gzip -9 with FNAME: write the sample to a file so gzip records its name.
    open("sample.bin", "wb").write(data)
    os.utime("sample.bin", (1600000000, 1600000000))  # a fixed MTIME in the header
    subprocess.run(["gzip", "-9", "-f", "-k", "sample.bin"], check=True)
    os.replace("sample.bin.gz", "sample-9.gz")
    os.remove("sample.bin")
    # Stored blocks only (level 0; the first 5000 bytes, to keep it small) and
    # fixed Huffman only (Z_FIXED), via zlib: the gzip tool can make neither.
    open("sample-stored.gz", "wb").write(zlib_gzip(data[:5000], 0))
    open("sample-fixed.gz", "wb").write(zlib_gzip(data, 9, zlib.Z_FIXED))
    # Two members, concatenated as `cat a.gz b.gz` would.
    open("multi.gz", "wb").write(gzip_cli(["-9", "-n", "-c"], b"first member\n") +
                                 gzip_cli(["-1", "-n", "-c"], b"second member\n"))
    # A t10k-only MNIST folder of 20 images of 4x5 pixels, made by gzip -9 -n.
    os.makedirs("mnist-t10k-only", exist_ok=True)
    open("mnist-t10k-only/t10k-images-idx3-ubyte.gz", "wb").write(
        gzip_cli(["-9", "-n", "-c"], idx_images(20, 4, 5)))
    open("mnist-t10k-only/t10k-labels-idx1-ubyte.gz", "wb").write(
        gzip_cli(["-9", "-n", "-c"], idx_labels(20)))
    # A gzip bomb aimed at the IDX reader: the header declares 16 labels, but
    # the member goes on to inflate 16 MiB of zeros (about 1000:1).
    open("bomb-labels-idx1-ubyte.gz", "wb").write(
        gzip_cli(["-9", "-n", "-c"], idx_labels(16) + bytes(16 << 20)))


if __name__ == "__main__":
    main()
