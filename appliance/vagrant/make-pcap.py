#!/usr/bin/env python3
"""Writes a small synthetic capture (classic pcap, Ethernet) for replaying onto the VM's watched
interface with tcpreplay: a DNS query/answer over UDP and a short TCP session (handshake, request,
response, FIN), between documentation addresses. Standard library only.
  python3 make-pcap.py OUT.pcap [REPEAT=10]   -> prints the number of packets written
"""
import struct
import sys

CLIENT_MAC = bytes.fromhex("020000000001")
SERVER_MAC = bytes.fromhex("020000000002")


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def ipv4(src: str, dst: str, proto: int, payload: bytes, ident: int) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, ip4(src), ip4(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    return ip4(src) + ip4(dst) + struct.pack("!BBH", 0, proto, length)


def udp(src, dst, sport, dport, payload, ident):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
    return ipv4(src, dst, 17, seg[:6] + struct.pack("!H", c) + seg[8:], ident)


def tcp(src, dst, sport, dport, seq, ack, flags, payload, ident):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    return ipv4(src, dst, 6, seg[:16] + struct.pack("!H", c) + seg[18:], ident)


def eth(dst_mac, src_mac, ip_packet):
    return dst_mac + src_mac + struct.pack("!H", 0x0800) + ip_packet


def dns_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"


def packets(i: int):
    cli, srv, dns = "192.0.2.10", "198.51.100.20", "192.0.2.53"
    sport = 40000 + i
    qid = 0x1000 + i
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name("example.com") + struct.pack("!HH", 1, 1)
    a = (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + dns_name("example.com") + struct.pack("!HH", 1, 1)
         + struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + ip4(srv))
    out = [
        eth(SERVER_MAC, CLIENT_MAC, udp(cli, dns, 50000 + i, 53, q, 1)),
        eth(CLIENT_MAC, SERVER_MAC, udp(dns, cli, 53, 50000 + i, a, 2)),
    ]
    req = b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: outpost-vagrant\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
    c, s = 1000, 5000
    seq = [
        (True, c, 0, 0x02, b""), (False, s, c + 1, 0x12, b""), (True, c + 1, s + 1, 0x10, b""),
        (True, c + 1, s + 1, 0x18, req), (False, s + 1, c + 1 + len(req), 0x18, resp),
        (True, c + 1 + len(req), s + 1 + len(resp), 0x11, b""),
        (False, s + 1 + len(resp), c + 2 + len(req), 0x11, b""),
        (True, c + 2 + len(req), s + 2 + len(resp), 0x10, b""),
    ]
    for n, (from_client, sq, ak, fl, pl) in enumerate(seq):
        if from_client:
            out.append(eth(SERVER_MAC, CLIENT_MAC, tcp(cli, srv, sport, 80, sq, ak, fl, pl, 10 + n)))
        else:
            out.append(eth(CLIENT_MAC, SERVER_MAC, tcp(srv, cli, 80, sport, sq, ak, fl, pl, 10 + n)))
    return out


def main():
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    n = 0
    t = 1700000000
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(repeat):
            for k, p in enumerate(packets(i)):
                f.write(struct.pack("<IIII", t + i, k * 1000, len(p), len(p)) + p)
                n += 1
    print(n)


if __name__ == "__main__":
    main()
