#!/usr/bin/env python3
"""Send raw Ethernet frames out of an interface (AF_PACKET), for tests that need frames no host stack
would build: a multicast source MAC, a reserved destination. Usage:
  inject.py IFNAME DST_MAC SRC_MAC ETHERTYPE_HEX COUNT"""
import socket
import sys

ifname, dst, src, ethertype, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 16), int(sys.argv[5])
frame = bytes.fromhex(dst.replace(':', '')) + bytes.fromhex(src.replace(':', '')) + ethertype.to_bytes(2, 'big') + b'tapwire-test'.ljust(46, b'\0')
with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
    s.bind((ifname, 0))
    for _ in range(count):
        s.send(frame)
