#!/usr/bin/env python3
"""
Captures what a real kernel sends on NETLINK_ROUTE, for test/unit/rtnetlink.test.ts: run as root,
it builds a namespace with a veth pair (dummy0, peer0), sends vipd's requests (built here byte for byte as
src/net/rtnetlink.ts builds them; the test checks the encoder against them), records every reply
datagram, then subscribes to RTMGRP_LINK | RTMGRP_IPV4_IFADDR and records the events of a link
down, an address added and removed, a rename and a deletion. Writes JSON to stdout.

    sudo python3 test/support/rtnetlink-capture.py > test/vectors/rtnetlink.json
    npx prettier --write test/vectors/rtnetlink.json
"""
import json, os, platform, select, socket, struct, subprocess, sys

NS = f"vipdcap{os.getpid()}"


def sh(*args):
    subprocess.run(["ip", "-n", NS, *args], check=True)


def nlmsg(type_, flags, seq, body):
    return struct.pack("=IHHII", 16 + len(body), type_, flags, seq, 0) + body


def rta(type_, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, type_) + data + b"\0" * ((4 - n % 4) % 4)


REQUEST, ACK, DUMP, CREATE, REPLACE = 1, 4, 0x300, 0x400, 0x100
ifinfo = lambda: struct.pack("=BxHiII", 0, 0, 0, 0, 0)
skip_stats = rta(29, struct.pack("=I", 8))


def addr_body(family, prefix, index, ip):
    raw = socket.inet_pton(socket.AF_INET, ip)
    return struct.pack("=BBBBI", family, prefix, 0, 0, index) + rta(2, raw) + rta(1, raw)


def read_all(s, timeout):
    out = []
    while True:
        r, _, _ = select.select([s], [], [], timeout)
        if not r:
            return out
        out.append(s.recv(1 << 20).hex())
        timeout = min(timeout, 0.3)


def exchange(s, name, req, timeout=0.5):
    s.send(req)
    return {"name": name, "request": req.hex(), "replies": read_all(s, timeout)}


def main():
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        sh("link", "set", "lo", "up")
        # A veth pair, not a dummy: some kernels (this lab's) have no dummy driver.
        sh("link", "add", "dummy0", "type", "veth", "peer", "name", "peer0")
        sh("link", "set", "dummy0", "address", "02:00:5e:00:01:33")
        sh("link", "set", "peer0", "up")
        sh("link", "set", "dummy0", "up")
        sh("addr", "add", "10.9.0.1/24", "dev", "dummy0")
        sh("addr", "add", "10.9.0.2/24", "dev", "dummy0")
        shown = subprocess.run(
            ["ip", "-n", NS, "-j", "link", "show", "dummy0"], capture_output=True, check=True
        )
        index = json.loads(shown.stdout)[0]["ifindex"]
        # Into the namespace: this script again, under `ip netns exec` (os.setns needs 3.12).
        out = subprocess.run(
            ["ip", "netns", "exec", NS, sys.executable, __file__, "--inside", str(index)],
            check=True,
            capture_output=True,
        )
        sys.stdout.write(out.stdout.decode())
    finally:
        subprocess.run(["ip", "netns", "del", NS])


def inside(index):
    req = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    req.bind((0, 0))
    ex = []
    name = lambda n: rta(3, n.encode() + b"\0")
    ex.append(exchange(req, "get dummy0", nlmsg(18, REQUEST | ACK, 1, ifinfo() + name("dummy0") + skip_stats)))
    ex.append(exchange(req, "get nosuch0", nlmsg(18, REQUEST | ACK, 2, ifinfo() + name("nosuch0") + skip_stats)))
    ex.append(exchange(req, "dump links", nlmsg(18, REQUEST | DUMP, 3, ifinfo() + skip_stats)))
    ex.append(exchange(req, "dump addresses", nlmsg(22, REQUEST | DUMP, 4, struct.pack("=BBBBI", 2, 0, 0, 0, 0))))
    ex.append(exchange(req, "add 10.9.0.3/24", nlmsg(20, REQUEST | ACK | CREATE | REPLACE, 5, addr_body(2, 24, index, "10.9.0.3"))))
    ex.append(exchange(req, "add 10.9.0.5/33", nlmsg(20, REQUEST | ACK | CREATE | REPLACE, 6, addr_body(2, 33, index, "10.9.0.5"))))
    ex.append(exchange(req, "del 10.9.0.3/24", nlmsg(21, REQUEST | ACK, 7, addr_body(2, 24, index, "10.9.0.3"))))
    ex.append(exchange(req, "del 10.9.0.99/24", nlmsg(21, REQUEST | ACK, 8, addr_body(2, 24, index, "10.9.0.99"))))
    mon = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    mon.bind((0, 0x1 | 0x10))
    events = []
    for step in (
        ["link", "set", "dummy0", "down"],
        ["link", "set", "dummy0", "up"],
        ["addr", "add", "10.9.0.4/24", "dev", "dummy0"],
        ["addr", "del", "10.9.0.4/24", "dev", "dummy0"],
        ["addr", "del", "10.9.0.1/24", "dev", "dummy0"],
        ["link", "set", "dummy0", "name", "dummy9"],
        ["link", "del", "dummy9"],
    ):
        subprocess.run(["ip", *step], check=True)
        events.append({"name": "ip " + " ".join(step), "datagrams": read_all(mon, 0.5)})
    json.dump(
        {"kernel": platform.release(), "ifindex": index, "exchanges": ex, "events": events},
        sys.stdout,
        indent=1,
    )
    print()


if sys.argv[1:2] == ["--inside"]:
    inside(int(sys.argv[2]))
else:
    main()
