#!/usr/bin/env python3
"""opline.py: prints one op line as rmtabfs writes them (include/rmtabfs/oplog.h), for tests
that craft a journal or a node log by hand.

usage: opline.py SEQ TIME_NS NODE COUNT CLIENT PATH [BORN_NS [ORIGIN]]"""
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def esc(s):
    return "".join(f"%{ord(c):02X}" if ord(c) <= 0x20 or c in "%\x7f" else c for c in s)


seq, time, node, count, client, path = sys.argv[1:7]
born = sys.argv[7] if len(sys.argv) > 7 else time
origin = sys.argv[8] if len(sys.argv) > 8 else node
body = f"s {seq} {time} {node} {count} {born} {origin} {esc(client)} {esc(path)} ".encode()
sys.stdout.write(body.decode() + "%08x\n" % crc32c(body))
