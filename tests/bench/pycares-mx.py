#!/usr/bin/python3
# pycares-mx.py: the peer for tests/bench/route-bench. Resolves each domain's
# MX set, then the A record of every exchange, through c-ares driven from
# Python (Debian python3-pycares), with a bounded number of queries in
# flight. This is the "c-ares from Python, 64 in flight, 10,000 MX + A"
# figure the benchmark compares mxsend with.
#
# usage: pycares-mx.py SERVER PORT WINDOW DOMAIN_FILE
# Prints one line of JSON: domains, ok, failed, queries, seconds. A domain
# is ok when its MX lookup returned at least one exchange and every
# exchange's A lookup returned an address. Exit status 0 when every domain
# is ok, 1 otherwise (then the timing means nothing), 2 on usage errors.
#
# Written for this project; it uses only pycares' documented Channel API.

import collections
import json
import selectors
import sys
import time

import pycares


def main(argv):
    if len(argv) != 5:
        sys.stderr.write("usage: pycares-mx.py SERVER PORT WINDOW DOMAIN_FILE\n")
        return 2
    server, port, window, path = argv[1], int(argv[2]), int(argv[3]), argv[4]
    with open(path) as f:
        domains = [line.strip() for line in f if line.strip()]

    sel = selectors.DefaultSelector()
    watched = {}

    def sock_state(fd, readable, writable):
        ev = (selectors.EVENT_READ if readable else 0) | \
             (selectors.EVENT_WRITE if writable else 0)
        if fd in watched:
            if ev:
                sel.modify(fd, ev)
                watched[fd] = ev
            else:
                sel.unregister(fd)
                del watched[fd]
        elif ev:
            sel.register(fd, ev)
            watched[fd] = ev

    # The same knobs as mxsend's resolver: 2 tries, no search list, a
    # 1 MiB receive buffer, total timeout 10 s (c-ares doubles per round).
    chan = pycares.Channel(servers=[server], udp_port=port, tcp_port=port,
                           tries=2, timeout=10.0 / 3,
                           flags=pycares.ARES_FLAG_NOSEARCH,
                           socket_receive_buffer_size=1 << 20,
                           sock_state_cb=sock_state)

    pending = collections.deque()   # (name, type, domain index)
    state = {"inflight": 0, "queries": 0}
    left = [0] * len(domains)       # address lookups outstanding per domain
    bad = [False] * len(domains)
    done = [False] * len(domains)

    def finish(i):
        done[i] = True

    def pump():
        while pending and state["inflight"] < window:
            name, qtype, i = pending.popleft()
            state["inflight"] += 1
            state["queries"] += 1
            if qtype == pycares.QUERY_TYPE_MX:
                chan.query(name, qtype, lambda r, e, i=i: on_mx(i, r, e))
            else:
                chan.query(name, qtype, lambda r, e, i=i: on_a(i, r, e))

    def on_mx(i, result, error):
        state["inflight"] -= 1
        if error is not None or not result:
            bad[i] = True
            finish(i)
        else:
            left[i] = len(result)
            for rr in result:
                pending.append((rr.host, pycares.QUERY_TYPE_A, i))
        pump()

    def on_a(i, result, error):
        state["inflight"] -= 1
        if error is not None or not result:
            bad[i] = True
        left[i] -= 1
        if left[i] == 0:
            finish(i)
        pump()

    start = time.monotonic()
    for i, d in enumerate(domains):
        pending.append((d, pycares.QUERY_TYPE_MX, i))
    pump()
    while state["inflight"] > 0 or pending:
        tv = chan.timeout()
        events = sel.select(tv if tv else 1.0)
        if not events:
            chan.process_fd(pycares.ARES_SOCKET_BAD, pycares.ARES_SOCKET_BAD)
        for key, mask in events:
            rfd = key.fd if mask & selectors.EVENT_READ else pycares.ARES_SOCKET_BAD
            wfd = key.fd if mask & selectors.EVENT_WRITE else pycares.ARES_SOCKET_BAD
            chan.process_fd(rfd, wfd)
        pump()
    elapsed = time.monotonic() - start

    ok = sum(1 for i in range(len(domains)) if done[i] and not bad[i])
    print(json.dumps({"domains": len(domains), "ok": ok, "failed": len(domains) - ok,
                      "queries": state["queries"], "seconds": round(elapsed, 4)}))
    return 0 if ok == len(domains) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
