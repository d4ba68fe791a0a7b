#!/usr/bin/env python3
"""Writes N deterministic /proc/net/nf_conntrack lines (kernel 6.18 layout, accounting on) to
stdout: a NAT-gateway-like mix of IPv4 TCP (established, assured), UDP, ICMP and IPv6 TCP, from
documentation addresses. Used by bench/sources.sh.

    python3 bench/gen_proc.py 1000000 > /tmp/proc.txt
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
out = sys.stdout
buf = []
for i in range(n):
    a, b = (i >> 8) & 0xFF, i & 0xFF
    src = f"198.51.{100 + (a % 2)}.{1 + b % 254}"
    dst = f"203.0.113.{1 + (i * 7) % 254}"
    sp = 1024 + (i * 13) % 60000
    k = i % 10
    if k < 6:
        dp = (80, 443, 22)[i % 3]
        buf.append(
            f"ipv4     2 tcp      6 {431000 + i % 999} ESTABLISHED src={src} dst={dst} sport={sp} dport={dp} "
            f"packets={i % 500 + 1} bytes={(i % 500 + 1) * 87} src={dst} dst=192.0.2.1 sport={dp} dport={sp} "
            f"packets={i % 400} bytes={(i % 400) * 1203} [ASSURED] mark=0 zone=0 use=2\n")
    elif k < 9:
        buf.append(
            f"ipv4     2 udp      17 {i % 180} src={src} dst={dst} sport={sp} dport=53 packets=1 bytes=71 "
            f"[UNREPLIED] src={dst} dst=192.0.2.1 sport=53 dport={sp} packets=0 bytes=0 mark=0 zone=0 use=2\n")
    elif i % 20 == 9:
        buf.append(
            f"ipv4     2 icmp     1 {i % 30} src={src} dst={dst} type=8 code=0 id={i % 65536} packets=1 bytes=84 "
            f"src={dst} dst=192.0.2.1 type=0 code=0 id={i % 65536} packets=1 bytes=84 mark=0 zone=0 use=2\n")
    else:
        h = f"{i % 65536:04x}"
        buf.append(
            f"ipv6     10 tcp      6 {i % 120} TIME_WAIT src=2001:0db8:0000:0000:0000:0000:0000:{h} "
            f"dst=2001:0db8:0000:0001:0000:0000:0000:0001 sport={sp} dport=443 packets=12 bytes=2051 "
            f"src=2001:0db8:0000:0001:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:{h} "
            f"sport=443 dport={sp} packets=10 bytes=7113 [ASSURED] mark=0 zone=0 use=2\n")
    if len(buf) >= 10000:
        out.write("".join(buf))
        buf.clear()
out.write("".join(buf))
