#!/usr/bin/env python3
"""Asks a DNS server (UDP) for the A record of each name; prints `name address` lines, exits 1 if one has none.
The names row's check that dnsmasq answers before anything is measured. Usage: dnsq.py HOST PORT NAME..."""
import random
import socket
import struct
import sys


def query(server, port, name):
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(packet, (server, port))
        reply = s.recv(4096)
    rid, flags, _, ancount = struct.unpack(">HHHH", reply[:8])
    if rid != qid or flags & 0xF or ancount == 0:
        return None
    # the answer's last record: an A record's last 4 bytes are the address
    return socket.inet_ntoa(reply[-4:])


def main():
    server, port, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    ok = True
    for n in names:
        try:
            a = query(server, port, n)
        except OSError as e:
            a = None
            print(f"{n} error {e}")
        print(f"{n} {a or 'none'}")
        ok = ok and a is not None
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
