#!/usr/bin/env python3
"""Client half of tests/smtpd/selftest.test.

Runs one step (argv[1]) against the scripted server and prints what it saw as
"key value" lines; the shell script compares them and the recorded files.
Every socket has a timeout, so no step can hang.
"""
import base64
import smtplib
import socket
import ssl
import sys
import time

PORT = 25
CAFILE = sys.argv[2] if len(sys.argv) > 2 else None
TIMEOUT = 10


def say(key, value):
    print(key, value if isinstance(value, str) else repr(value))
    sys.stdout.flush()


class Raw:
    """A byte-exact line client over a plain or TLS socket."""

    def __init__(self, addr, port=PORT, timeout=TIMEOUT):
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((addr, port))
        self.buf = b""

    def recv_some(self):
        data = self.sock.recv(65536)
        self.buf += data
        return data

    def line(self, limit=1 << 20):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit or not self.recv_some():
                raise EOFError(self.buf[:80])
        i = self.buf.index(b"\r\n") + 2
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def reply(self):
        """One (possibly multi-line) reply, as a list of lines without CRLF."""
        lines = []
        while True:
            ln = self.line()[:-2]
            lines.append(ln.decode("latin-1"))
            if len(ln) < 4 or ln[3:4] != b"-":
                return lines

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self, ctx, name):
        self.sock = ctx.wrap_socket(self.sock, server_hostname=name)

    def close(self):
        self.sock.close()


def tls_context(verify=True):
    ctx = ssl.create_default_context(cafile=CAFILE)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def step_greetings():
    for addr in ("127.0.0.2", "127.0.0.3"):
        c = Raw(addr)
        say("greeting-" + addr, c.reply()[0])
        c.cmd("QUIT")
        c.close()


def step_session():
    s = smtplib.SMTP("127.0.0.2", PORT, local_hostname="client.test", timeout=TIMEOUT)
    code, _ = s.ehlo()
    say("ehlo", str(code))
    say("starttls-offered", str(s.has_extn("starttls")))
    s.mail("a@b.test")
    for rcpt in ("ok", "bad", "later"):
        code, msg = s.rcpt(rcpt + "@mx2.test")
        say("rcpt-" + rcpt, "%d %s" % (code, msg.decode()))
    code, msg = s.data(b"Subject: self test\r\n\r\nline one\r\n.dot line\r\nlast\r\n")
    say("data", "%d %s" % (code, msg.decode()))
    s.rset()
    s.mail("c@b.test")
    code, _ = s.quit()
    say("quit", str(code))


def step_inject():
    c = Raw("127.0.0.3")
    c.reply()
    c.cmd("EHLO raw.test")
    c.sock.sendall(b"STARTTLS\r\n")
    # One recv: the 220 and the injected lines were written in one write().
    say("after-starttls", c.recv_some())
    c.close()


def step_longline():
    c = Raw("127.0.0.3")
    c.reply()
    c.sock.sendall(b"NOOP\r\n")
    ln = c.line(limit=200000)
    say("longline-len", str(len(ln)))
    say("longline-head", ln[:6])
    say("longline-after", c.cmd("QUIT")[0])
    c.close()


def step_never_greet():
    hang = Raw("127.0.0.4", timeout=1.0)
    # While that session hangs, another host still answers (one process,
    # non-blocking).
    other = Raw("127.0.0.2")
    say("other-while-hanging", other.reply()[0])
    other.close()
    try:
        data = hang.sock.recv(100)
        say("never-greet", "got %r" % data)
    except socket.timeout:
        say("never-greet", "client timeout")
    hang.close()


def step_starttls(addr):
    c = Raw(addr)
    c.reply()
    c.cmd("EHLO tls.test")
    say("starttls-reply", c.cmd("STARTTLS")[0])
    try:
        c.starttls(tls_context(), "mx.test")
    except ssl.SSLCertVerificationError as e:
        say("tls", "verify-failed " + e.verify_message)
        c.close()
        return
    say("tls", "ok " + c.sock.version())
    c.cmd("EHLO tls.test")
    say("tls-mail", c.cmd("MAIL FROM:<a@b.test>")[0])
    say("tls-quit", c.cmd("QUIT")[0])
    c.close()


def step_qq():
    c = Raw("127.0.0.5", 465)
    c.starttls(tls_context(), "mx.test")
    say("qq-greeting", c.reply()[0])
    # One recv inside TLS returns at most one TLS record: the whole reply
    # must come in one, as it does in plaintext.
    c.sock.sendall(b"EHLO client.test\r\n")
    say("qq-ehlo", c.recv_some())
    c.buf = b""
    plain = base64.b64encode(b"\0user@qq.test\0wrong").decode()
    say("qq-auth-plain", c.cmd("AUTH PLAIN " + plain)[0])
    say("qq-auth-login-1", c.cmd("AUTH LOGIN " + base64.b64encode(b"user@qq.test").decode())[0])
    say("qq-auth-login-2", c.cmd(base64.b64encode(b"code").decode())[0])
    say("qq-mail", c.cmd("MAIL FROM:<other@qq.test>")[0])
    c.cmd("QUIT")
    c.close()


def step_limit_drop_endless():
    # 1st session of 127.0.0.7: the "limit 1" greeting, then the close.
    c = Raw("127.0.0.7")
    say("limit-first", c.reply()[0])
    say("limit-first-eof", str(c.recv_some() == b""))
    c.close()
    # 2nd: normal greeting; the connection drops 10 bytes into DATA.
    c = Raw("127.0.0.7")
    say("limit-second", c.reply()[0])
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@b.test>")
    c.cmd("RCPT TO:<c@d.test>")
    say("drop-data", c.cmd("DATA")[0])
    try:
        c.sock.sendall(b"0123456789abcdefghij\r\n")
        rest = c.sock.recv(100)
        say("drop-eof", str(rest == b""))
    except (ConnectionResetError, BrokenPipeError):
        say("drop-eof", "True")
    c.close()
    # 3rd: endless continuation lines, capped by the script, then closed.
    c = Raw("127.0.0.7")
    c.reply()
    c.sock.sendall(b"EHLO endless.test\r\n")
    total, bad = 0, 0
    while True:
        try:
            data = c.sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        c.buf += data
        total += len(data)
    bad = sum(1 for ln in c.buf.split(b"\r\n")[:-1] if ln != b"250-more")
    say("endless-bytes", str(total))
    say("endless-other-lines", str(bad))
    c.close()


def step_slow():
    t0 = time.monotonic()
    c = Raw("127.0.0.8")
    greeting = c.reply()[0]
    say("slow-greeting", greeting)
    say("slow-waited", str(time.monotonic() - t0 >= 0.29))
    c.close()


def step_ipv6():
    c = Raw("::1")
    say("v6-greeting", c.reply()[0])
    c.cmd("QUIT")
    c.close()


def step_many():
    conns = [Raw("127.0.0.2") for _ in range(30)]
    greeted = sum(1 for c in conns if c.reply()[0].startswith("220 mx2.test"))
    say("many-greeted", str(greeted))
    quits = sum(1 for c in conns if c.cmd("QUIT")[0].startswith("221"))
    say("many-quit", str(quits))
    for c in conns:
        c.close()


def step_hold():
    # A session left open: SIGTERM must still stop the server.
    c = Raw("127.0.0.2")
    c.reply()
    print("holding", flush=True)
    try:
        say("hold-end", c.sock.recv(100))
    except (socket.timeout, ConnectionResetError) as e:
        say("hold-end", type(e).__name__)


STEPS = {
    "greetings": step_greetings,
    "session": step_session,
    "inject": step_inject,
    "longline": step_longline,
    "never-greet": step_never_greet,
    "starttls-good": lambda: step_starttls("127.0.0.2"),
    "starttls-wrong-name": lambda: step_starttls("127.0.0.6"),
    "qq": step_qq,
    "limit-drop-endless": step_limit_drop_endless,
    "slow": step_slow,
    "ipv6": step_ipv6,
    "many": step_many,
    "hold": step_hold,
}

if __name__ == "__main__":
    try:
        STEPS[sys.argv[1]]()
    except Exception as e:  # report, let the shell's checks fail
        say("error", "%s: %s" % (type(e).__name__, e))
        sys.exit(1)
