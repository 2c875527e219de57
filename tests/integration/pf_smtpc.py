#!/usr/bin/python3
"""tests/integration/pf_smtpc.py: a small SMTP client for checking test servers.

Drives one SMTP session with Python's smtplib (Debian python3) and prints
one line per step: "<step> <code> <text>", e.g. "rcpt 550 5.1.1 <x@a.test>:
...". It stops at the first reply that is not 2xx/3xx (exit 1) and exits 0
when every step succeeded; a TLS or connection failure prints
"<step> error <reason>" and exits 2. It checks the servers that
tests/integration/postfix.sh starts, independently of mxsend.

The message file is sent byte for byte (smtplib only dot-stuffs and adds
the final CRLF.CRLF): write CRLF line ends yourself, or bare LFs on purpose.
The password comes from an environment variable, never argv.

  pf_smtpc.py --connect 127.0.0.2:25 [--tls none|starttls|implicit]
              [--cafile CA --name TLSNAME] [--helo NAME]
              [--auth PLAIN|LOGIN --user LOGIN --password-env VAR]
              [--from ADDR [--mail-opt SMTPUTF8]... --to ADDR... --data FILE]
"""

import argparse
import os
import smtplib
import socket
import ssl
import sys


def say(step, code, text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    print(f"{step} {code} {' '.join(text.split())}", flush=True)


def tls_context(args):
    if args.cafile:
        ctx = ssl.create_default_context(cafile=args.cafile)
        if not args.name:
            sys.exit("--cafile needs --name (the name to verify)")
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_report(sock, args):
    cert = sock.getpeercert() if args.cafile else None
    subject = ""
    if cert:
        subject = ",".join(f"{k}={v}" for rdn in cert["subject"] for k, v in rdn)
    state = f"verified name={args.name}" if args.cafile else "unverified"
    say("tls", sock.version(), f"{state} cipher={sock.cipher()[0]} {subject}")


class ImplicitTLS(smtplib.SMTP_SSL):
    """SMTP_SSL that verifies --name instead of the address it connects to."""

    def __init__(self, tlsname, **kw):
        self.tlsname = tlsname
        super().__init__(**kw)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self.tlsname)


def ehlo(s, args):
    code, text = s.ehlo(args.helo)
    say("ehlo", code, " ".join(k.upper() for k in s.esmtp_features) if code == 250 else text)
    return code == 250


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connect", required=True, help="ADDR:PORT ([v6]:PORT)")
    p.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    p.add_argument("--cafile")
    p.add_argument("--name")
    p.add_argument("--helo", default="client.test")
    p.add_argument("--auth", choices=["PLAIN", "LOGIN"])
    p.add_argument("--user")
    p.add_argument("--password-env")
    p.add_argument("--from", dest="sender")
    p.add_argument("--mail-opt", action="append", default=[])
    p.add_argument("--to", action="append", default=[])
    p.add_argument("--data")
    p.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()

    host, _, port = args.connect.rpartition(":")
    host = host.strip("[]")
    port = int(port)
    try:
        if args.tls == "implicit":
            ctx = tls_context(args)
            s = ImplicitTLS(args.name or host, context=ctx, timeout=args.timeout)
        else:
            s = smtplib.SMTP(timeout=args.timeout)
        code, text = s.connect(host, port)
    except (OSError, smtplib.SMTPException) as e:
        say("connect", "error", str(e))
        return 2
    say("connect", code, text)
    if code != 220:
        return 1
    if args.tls == "implicit":
        tls_report(s.sock, args)
    try:
        if not ehlo(s, args):
            return 1
        if args.tls == "starttls":
            code, text = s.docmd("STARTTLS")
            say("starttls", code, text)
            if code != 220:
                return 1
            try:
                s.sock = tls_context(args).wrap_socket(
                    s.sock, server_hostname=args.name or host)
            except (OSError, ssl.SSLError) as e:
                say("tls", "error", str(e))
                return 2
            s.file = None
            s.helo_resp = s.ehlo_resp = None
            s.esmtp_features = {}
            s.does_esmtp = False
            tls_report(s.sock, args)
            if not ehlo(s, args):
                return 1
        if args.auth:
            s.user = args.user
            s.password = os.environ.get(args.password_env or "", "")
            obj = s.auth_plain if args.auth == "PLAIN" else s.auth_login
            try:
                code, text = s.auth(args.auth, obj)
            except smtplib.SMTPAuthenticationError as e:
                code, text = e.smtp_code, e.smtp_error
            except smtplib.SMTPResponseException as e:
                code, text = e.smtp_code, e.smtp_error
            say("auth", code, text)
            if code != 235:
                return 1
        if args.sender is None:
            code, text = s.docmd("QUIT")
            say("quit", code, text)
            return 0
        code, text = s.mail(args.sender, args.mail_opt)
        say("mail", code, text)
        if code != 250:
            return 1
        for rcpt in args.to:
            code, text = s.rcpt(rcpt)
            say("rcpt", code, text)
            if code not in (250, 251):
                return 1
        if args.data is not None:
            with open(args.data, "rb") as f:
                msg = f.read()
            code, text = s.data(msg)
            say("data", code, text)
            if code != 250:
                return 1
        code, text = s.docmd("QUIT")
        say("quit", code, text)
        return 0
    except smtplib.SMTPServerDisconnected as e:
        say("disconnect", "error", str(e))
        return 2
    except (OSError, ssl.SSLError) as e:
        say("io", "error", str(e))
        return 2


if __name__ == "__main__":
    sys.exit(main())
