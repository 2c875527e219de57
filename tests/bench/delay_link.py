#!/usr/bin/python3
"""tests/bench/delay_link.py: a point-to-point IP link with a fixed delay, for counting round trips.

The kernel of the benchmark machines has no netem (nor fq), so the delay is
made in user space, one layer lower than a TCP relay would: two TUN
devices, one in the client's network namespace and one in the server's,
and this process in between, which hands every IP packet to the other side
DELAY ms after it read it, in order, in both directions. TCP runs end to
end between the two kernels, so Nagle's algorithm, delayed ACKs, the MSS
(1460 with the TUN's 1500-octet MTU) and the segments the programs write
behave as on a real path with a round trip of 2 x DELAY. (A relaying TCP
proxy would acknowledge every segment at once on loopback: a client or a
server whose reply waits for an acknowledgement, behind Nagle's
algorithm, would then look faster than on a real network.)

Every TCP connection is logged, when both sides have sent FIN (or one sent
RST), as one JSON line appended to LOG:
  {"conn": N, "client": "ip:port", "events": [[t_ms, kind, bytes], ...]}
t_ms is when the link read the packet, in ms since the connection's SYN;
kind is "c" (client to server, data), "s" (server to client, data), "C"
(the client's FIN or RST), "S" (the server's FIN or RST), "a" and "A" (a
pure ACK from the client / the server). A packet reaches the other side DELAY ms after
its t_ms. The client is the side of the first interface (A).

Usage:
  delay_link.py link NAME_A NAME_B DELAY_MS LOG READY_FILE
      creates the TUN devices NAME_A and NAME_B (the caller then moves
      NAME_B into the server's namespace and gives both addresses), writes
      READY_FILE and relays until killed.
  delay_link.py turns LOG [DELAY_MS]   one line per connection:
      conn N turns T wall_ms W rtts R segs_c C segs_s S flights F
  delay_link.py timeline LOG [DELAY_MS]   the client's view, one packet a
      line: "t_ms > bytes" (client sends), "t_ms < bytes" (arrives at the
      client); pure ACKs as "t_ms > ack" / "t_ms < ack".
"""

import asyncio
import collections
import fcntl
import json
import os
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def tun_open(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def tcp_info(pkt):
    """(src, sport, dst, dport, flags, payload length) of an IPv4 TCP
    packet, or None."""
    if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return None
    ihl = (pkt[0] & 15) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    if len(pkt) < ihl + 20:
        return None
    sport, dport = struct.unpack("!HH", pkt[ihl:ihl + 4])
    doff = (pkt[ihl + 12] >> 4) * 4
    flags = pkt[ihl + 13]
    src = ".".join(str(b) for b in pkt[12:16])
    dst = ".".join(str(b) for b in pkt[16:20])
    return src, sport, dst, dport, flags, total - ihl - doff


FIN, SYN, RST = 0x01, 0x02, 0x04


class Log:
    """Per-connection event lists, written out when the connection ends."""

    def __init__(self, path):
        self.path = path
        self.conns = {}   # client "ip:port" -> record
        self.n = 0

    def packet(self, from_client, info):
        src, sport, dst, dport, flags, plen = info
        key = f"{src}:{sport}" if from_client else f"{dst}:{dport}"
        now = time.monotonic()
        rec = self.conns.get(key)
        if rec is None:
            if not (from_client and flags & SYN):
                return
            self.n += 1
            rec = {"conn": self.n, "client": key, "t0": now, "events": [], "fins": set()}
            self.conns[key] = rec
        t = round((now - rec["t0"]) * 1000, 3)
        side = "c" if from_client else "s"
        if plen > 0:
            rec["events"].append([t, side, plen])
        elif not flags & (SYN | FIN | RST):
            rec["events"].append([t, "a" if from_client else "A", 0])
        # A side's end: its FIN, or a RST (a close with data still
        # unread, such as the server's TLS close_notify).
        if flags & (FIN | RST) and side not in rec["fins"]:
            rec["fins"].add(side)
            rec["events"].append([t, side.upper(), 0])
        if flags & RST or len(rec["fins"]) == 2:
            del self.conns[key]
            with open(self.path, "a") as f:
                f.write(json.dumps({"conn": rec["conn"], "client": key,
                                    "events": rec["events"]}) + "\n")


class Direction:
    """Packets read from one TUN wait DELAY seconds, then go out of the other."""

    def __init__(self, loop, delay, out_fd):
        self.loop = loop
        self.delay = delay
        self.out_fd = out_fd
        self.q = collections.deque()
        self.handle = None

    def push(self, pkt):
        self.q.append((self.loop.time() + self.delay, pkt))
        if self.handle is None:
            self.handle = self.loop.call_at(self.q[0][0], self.flush)

    def flush(self):
        self.handle = None
        now = self.loop.time()
        while self.q and self.q[0][0] <= now:
            _, pkt = self.q.popleft()
            try:
                os.write(self.out_fd, pkt)
            except BlockingIOError:
                pass  # a full TUN queue drops, as a congested link would
            except OSError:
                pass  # the device went down: the run is ending
        if self.q:
            self.handle = self.loop.call_at(self.q[0][0], self.flush)


def run_link(name_a, name_b, delay_ms, log_path, ready):
    fd_a, fd_b = tun_open(name_a), tun_open(name_b)
    log = Log(log_path)

    async def main():
        loop = asyncio.get_running_loop()
        a_to_b = Direction(loop, delay_ms / 1000.0, fd_b)
        b_to_a = Direction(loop, delay_ms / 1000.0, fd_a)

        def reader(fd, direction, from_client):
            def on_readable():
                while True:
                    try:
                        pkt = os.read(fd, 65536)
                    except (BlockingIOError, OSError):
                        return
                    info = tcp_info(pkt)
                    if info is not None:
                        log.packet(from_client, info)
                    direction.push(pkt)
            return on_readable

        loop.add_reader(fd_a, reader(fd_a, a_to_b, True))
        loop.add_reader(fd_b, reader(fd_b, b_to_a, False))
        tmp = ready + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(tmp, ready)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------- analysis

def client_view(events, delay_ms):
    """(t_ms, kind, bytes) in the order the client sees them: what it sends
    ("c", "C", "a") when sent, what the server sends ("s", "S", "A") when it
    arrives."""
    out = []
    for t, kind, n in events:
        if kind in ("s", "S", "A"):
            out.append((t + delay_ms, kind, n))
        else:
            out.append((t, kind, n))
    out.sort(key=lambda e: e[0])
    return out


def turns(events, delay_ms):
    """The number of times the client waited for the server after the greeting.

    Data segments of one side in a row form a run. Every run of server
    data that the client answered (client data or the client's FIN came
    after it) is one wait; the first is the greeting and is not counted.
    A reply that arrives after the client's FIN (a QUIT reply the client
    did not wait for) is no wait. Also returned: the client's time from
    the greeting to its FIN, about turns x 2 x delay_ms when the client
    and server add nothing.
    """
    runs = []
    for t, kind, _ in client_view(events, delay_ms):
        if kind in ("a", "A", "S"):
            continue
        k = "s" if kind == "s" else "c"
        if runs and runs[-1][1] == k:
            continue
        runs.append((t, k))
    answered = sum(1 for i, (_, k) in enumerate(runs) if k == "s" and i + 1 < len(runs))
    greet = next((t for t, k in runs if k == "s"), None)
    fin = next((t for t, k, _ in client_view(events, delay_ms) if k == "C"), None)
    wall = (fin - greet) if greet is not None and fin is not None else None
    return max(answered - 1, 0), wall


def flights(events, delay_ms):
    """Client data runs of more than one segment (writes in a row with
    nothing from the server between them)."""
    multi, run = 0, 0
    for _, kind, _ in client_view(events, delay_ms):
        if kind == "c":
            run += 1
        elif kind == "s":
            multi += run > 1
            run = 0
    return multi + (run > 1)


def timeline(events, delay_ms):
    names = {"c": ">", "s": "<", "C": "> FIN", "S": "< FIN", "a": "> ack", "A": "< ack"}
    lines = []
    for t, k, n in client_view(events, delay_ms):
        lines.append(f"{t:9.2f} {names[k]} {n if k in 'cs' else ''}".rstrip())
    return "\n".join(lines)


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "link":
        run_link(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6])
        return
    if len(sys.argv) in (3, 4) and sys.argv[1] in ("turns", "timeline"):
        delay = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
        with open(sys.argv[2]) as f:
            for line in f:
                rec = json.loads(line)
                ev = rec["events"]
                if sys.argv[1] == "timeline":
                    print(f"# conn {rec['conn']} from {rec['client']}")
                    print(timeline(ev, delay))
                    continue
                n, wall = turns(ev, delay)
                rtts = wall / (2 * delay) if wall is not None else -1
                print(f"conn {rec['conn']} turns {n} wall_ms {wall if wall is not None else -1:.1f} "
                      f"rtts {rtts:.2f} segs_c {sum(1 for e in ev if e[1] == 'c')} "
                      f"segs_s {sum(1 for e in ev if e[1] == 's')} flights {flights(ev, delay)}")
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
