"""Network namespaces for NAT tests: two hosts behind their own NAT routers,
an "internet" namespace between the routers, and coturn on the internet.

    hostA ─(lanA 192.0.2.0/28)─ natA ─(203.0.113.0/30)─┐
                                                       inet (coturn 203.0.113.100)
    hostB ─(lanB 192.0.2.16/28)─ natB ─(203.0.113.4/30)─┘

Every address is inside namespaces this module creates (documentation
ranges), so no packet leaves the machine. NAT behaviour per router:

- "eim": MASQUERADE, which keeps the source port when it can
  (endpoint-independent mapping, address-and-port-dependent filtering);
- "symmetric": MASQUERADE --random-fully (a new port per destination);
- "udp-blocked": eim, and every forwarded UDP packet dropped (TCP only);
- "forward:PORT": eim plus a DNAT of UDP PORT on the router's public
  address to the host (a forwarded port).

Needs root, `ip` and `iptables`; `Topology.unavailable()` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field

INET_TURN_IP = "203.0.113.100"


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


@dataclass
class Side:
    host_ns: str
    nat_ns: str
    host_ip: str
    nat_lan_ip: str
    nat_wan_ip: str
    inet_ip: str


@dataclass
class Topology:
    a_nat: str = "eim"
    b_nat: str = "eim"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    namespaces: list[str] = field(default_factory=list)

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0:
            return "network namespace tests need root"
        for tool in ("ip", "iptables"):
            if shutil.which(tool) is None:
                return f"'{tool}' is not installed"
        probe = f"pa-probe-{uuid.uuid4().hex[:6]}"
        result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
        if result.returncode != 0:
            return f"cannot create a network namespace: {result.stderr.strip()}"
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
        return None

    def ns(self, name: str) -> str:
        return f"pa-{self.tag}-{name}"

    def exec_prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(name)]

    def sh(self, name: str, *argv: str) -> None:
        _run(*self.exec_prefix(name), *argv)

    def __enter__(self) -> "Topology":
        try:
            self.build()
        except Exception:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()

    @property
    def a(self) -> Side:
        return Side(self.ns("hostA"), self.ns("natA"), "192.0.2.2", "192.0.2.1", "203.0.113.2", "203.0.113.1")

    @property
    def b(self) -> Side:
        return Side(self.ns("hostB"), self.ns("natB"), "192.0.2.18", "192.0.2.17", "203.0.113.6", "203.0.113.5")

    def _add_ns(self, name: str) -> None:
        full = self.ns(name)
        _run("ip", "netns", "add", full)
        self.namespaces.append(full)
        self.sh(name, "ip", "link", "set", "lo", "up")
        # A new namespace copies the host's conf/all sysctls: set what matters explicitly.
        self.sh(name, "sysctl", "-qw", "net.ipv4.ip_forward=0")
        self.sh(name, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")
        self.sh(name, "sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0")
        self.sh(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")

    def _link(self, left: str, left_if: str, left_ip: str, right: str, right_if: str, right_ip: str) -> None:
        tmp_l, tmp_r = f"v{uuid.uuid4().hex[:8]}", f"v{uuid.uuid4().hex[:8]}"
        _run("ip", "link", "add", tmp_l, "type", "veth", "peer", "name", tmp_r)
        _run("ip", "link", "set", tmp_l, "netns", self.ns(left))
        _run("ip", "link", "set", tmp_r, "netns", self.ns(right))
        self.sh(left, "ip", "link", "set", tmp_l, "name", left_if)
        self.sh(right, "ip", "link", "set", tmp_r, "name", right_if)
        self.sh(left, "ip", "addr", "add", left_ip, "dev", left_if)
        self.sh(right, "ip", "addr", "add", right_ip, "dev", right_if)
        self.sh(left, "ip", "link", "set", left_if, "up")
        self.sh(right, "ip", "link", "set", right_if, "up")

    def build(self) -> None:
        for name in ("inet", "natA", "natB", "hostA", "hostB"):
            self._add_ns(name)
        self.sh("inet", "ip", "addr", "add", f"{INET_TURN_IP}/32", "dev", "lo")
        self.sh("inet", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for side, label, mode in ((self.a, "A", self.a_nat), (self.b, "B", self.b_nat)):
            nat, host = f"nat{label}", f"host{label}"
            self._link("inet", f"to{label}", f"{side.inet_ip}/30", nat, "wan", f"{side.nat_wan_ip}/30")
            lan_prefix = "/28"
            self._link(nat, "lan", side.nat_lan_ip + lan_prefix, host, "eth0", side.host_ip + lan_prefix)
            self.sh(host, "ip", "route", "add", "default", "via", side.nat_lan_ip)
            self.sh(nat, "ip", "route", "add", "default", "via", side.inet_ip)
            self.sh(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            # Nothing goes back out where it came from (no hairpin, no loops for strays), and
            # nothing unsolicited reaches the LAN: only replies, and the forwarded port (DNAT).
            self.sh(nat, "iptables", "-A", "FORWARD", "-i", "wan", "-o", "wan", "-j", "DROP")
            self.sh(nat, "iptables", "-A", "FORWARD", "-i", "wan", "-o", "lan", "-m", "conntrack",
                    "--ctstate", "ESTABLISHED,RELATED,DNAT", "-j", "ACCEPT")
            self.sh(nat, "iptables", "-A", "FORWARD", "-i", "wan", "-o", "lan", "-j", "DROP")
            # Unsolicited packets to the router itself are dropped before conntrack confirms
            # them, as home routers do: otherwise the entry for a peer's early check would make
            # the NAT pick another port for our own packet to that peer (a clash of tuples) and
            # hole punching would fail for 30 s.
            self.sh(nat, "iptables", "-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP")
            masquerade = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"]
            if mode == "symmetric":
                masquerade.append("--random-fully")
            self.sh(nat, *masquerade)
            if mode == "udp-blocked":
                self.sh(nat, "iptables", "-A", "FORWARD", "-p", "udp", "-j", "DROP")
            if mode.startswith("forward:"):
                port = mode.split(":", 1)[1]
                self.sh(nat, "iptables", "-t", "nat", "-A", "PREROUTING", "-i", "wan", "-p", "udp",
                        "--dport", port, "-j", "DNAT", "--to-destination", f"{side.host_ip}:{port}")
        # The internet's default route: coturn needs one (real-peers.md); strays die at natA.
        self.sh("inet", "ip", "route", "add", "default", "via", self.a.nat_wan_ip)

    def destroy(self) -> None:
        for full in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "pids", full], capture_output=True)
            pids = subprocess.run(["ip", "netns", "pids", full], capture_output=True, text=True).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], capture_output=True)
            subprocess.run(["ip", "netns", "del", full], capture_output=True)
        self.namespaces.clear()
