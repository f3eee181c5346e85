#!/usr/bin/env python3
"""
Captures, for test/unit/rtnetlink-macvlan.test.ts, what iproute2 sends to make and change a
macvlan and what a real kernel answers about one: run as root, it builds a namespace with a veth
pair (v0, v1), runs each `ip` command below under strace and records the one RTM_NEWLINK or
RTM_DELLINK it sends (the encoders must produce them byte for byte), then records the kernel's
reply to RTM_GETLINK (as src/net/rtnetlink.ts encodeGetLink builds it) for a bridge-mode
macvlan with no IPv6 address generation in protodown, a private-mode one, and the veth.
Writes JSON to stdout.

    sudo python3 test/support/vmac-capture.py > test/vectors/vmac.json
    npx prettier --write test/vectors/vmac.json
"""
import json, os, platform, re, select, socket, struct, subprocess, sys

NS = f"vipdvmac{os.getpid()}"

COMMANDS = [
    ("create", "link add vm0 link v0 address 00:00:5e:00:01:33 type macvlan mode bridge"),
    ("addrgenmode none", "link set vm0 addrgenmode none"),
    ("protodown on", "link set vm0 protodown on"),
    ("protodown off", "link set vm0 protodown off"),
    ("up", "link set vm0 up"),
    ("down", "link set vm0 down"),
    ("delete", "link del vm0"),
]


def sh(*args):
    subprocess.run(["ip", "-n", NS, *args], check=True)


def sent(command):
    """The one message `ip COMMAND` sends with sendmsg on its rtnetlink socket (fd 3)."""
    trace = subprocess.run(
        ["ip", "netns", "exec", NS, "strace", "-qq", "-e", "trace=sendmsg", "-e", "write=3",
         "ip", *command.split()],
        check=True, capture_output=True, text=True,
    ).stderr
    dump = "".join(
        " ".join(re.findall(r"\b[0-9a-f]{2}\b", line.split("|")[1][7:57]))
        for line in trace.splitlines()
        if line.startswith(" | ")
    )
    return bytes.fromhex(dump.replace(" ", ""))


def rta(type_, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, type_) + data + b"\0" * ((4 - n % 4) % 4)


def get_link(s, name, seq):
    body = struct.pack("=BxHiII", 0, 0, 0, 0, 0) + rta(3, name.encode() + b"\0")
    body += rta(29, struct.pack("=I", 8))
    s.send(struct.pack("=IHHII", 16 + len(body), 18, 5, seq, 0) + body)
    out = []
    while True:
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            return out
        out.append(s.recv(1 << 16).hex())


def main():
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        sh("link", "add", "v0", "type", "veth", "peer", "name", "v1")
        v0 = json.loads(subprocess.run(["ip", "-n", NS, "-j", "link", "show", "v0"],
                                       check=True, capture_output=True, text=True).stdout)[0]
        requests = []
        for name, command in COMMANDS:
            requests.append({"name": name, "command": f"ip {command}", "request": sent(command).hex()})
        # The links whose reports the decoder must read.
        sh("link", "add", "vm0", "link", "v0", "address", "00:00:5e:00:02:33", "type", "macvlan",
           "mode", "bridge")
        sh("link", "set", "vm0", "addrgenmode", "none")
        sh("link", "set", "vm0", "protodown", "on")
        sh("link", "add", "vm1", "link", "v0", "type", "macvlan", "mode", "private")
        # The replies are read by this script again, run inside the namespace.
        replies = json.loads(subprocess.run(
            ["ip", "netns", "exec", NS, sys.executable, __file__, "--get", "vm0", "vm1", "v0"],
            check=True, capture_output=True, text=True,
        ).stdout)
        print(json.dumps({"kernel": platform.release(), "parentIndex": v0["ifindex"],
                          "requests": requests, "links": replies}, indent=1))
    finally:
        subprocess.run(["ip", "netns", "del", NS])


def get_links(names):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 0))
    print(json.dumps([{"name": n, "replies": get_link(s, n, i + 1)} for i, n in enumerate(names)]))


if sys.argv[1:2] == ["--get"]:
    get_links(sys.argv[2:])
else:
    main()
