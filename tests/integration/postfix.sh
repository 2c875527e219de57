# tests/integration/postfix.sh: private Postfix instances for the tests.
#
# Sourced by bash test scripts (bash, not POSIX sh: it uses local, arrays
# and /dev/tcp). It starts real Postfix instances on loopback inside the
# test's own network namespace (TEST-SERVERS.md "Isolation") and stops
# exactly the processes it started, by PID:
#   - MX hosts for direct delivery: virtual mailbox domains with a fixed
#     list of users stored in Maildirs, STARTTLS from a test CA;
#   - the authenticated relay stand-in (like smtp.qq.com:465): implicit
#     TLS or STARTTLS on 587, Cyrus SASL PLAIN/LOGIN from a sasldb made
#     here, sender must equal the login, every message stored in one Maildir;
#   - a test CA and server certificates (pf_tls_make_ca, pf_tls_make_cert).
#
# It owns: everything under $PF_ROOT (one directory per instance: conf/,
# queue/, data/, mail/, maillog) and the master processes it started. It
# must not: touch /etc/postfix or a system instance, kill anything by
# name, sleep for a fixed time instead of polling, or reach off loopback.
#
# Use:
#   . "$srcdir/tests/integration/postfix.sh"
#   trap 'pf_stop_all' EXIT
#   pf_tls_make_ca "$dir/pki"
#   pf_tls_make_cert "$dir/pki" mx mx.a.test
#   pf_mx_start mx1 127.0.0.2 domains="a.test" users="alice@a.test" \
#       tls=may cert="$dir/pki/mx.crt" key="$dir/pki/mx.key"
#   ... send to 127.0.0.2:25 ...
#   pf_wait_mail "$(pf_maildir mx1 alice@a.test)" 1
#
# Instance names are [A-Za-z0-9_]+; each start exports PF_<NAME>_* shell
# variables (see pf_mx_start). Every function returns non-zero with a
# reason on stderr when it fails; none exits the calling shell.

# shellcheck shell=bash disable=SC2034
# (SC2034: the PF_<NAME>_* variables are set through eval.)

# Where the instances live. A caller may set PF_ROOT to a directory of its
# own (kept afterwards); otherwise one is made on first use and removed by
# pf_stop_all unless PF_KEEP=1.
: "${PF_ROOT:=}"
: "${PF_KEEP:=0}"
# How long to wait for a port or a master process (seconds).
: "${PF_START_TIMEOUT:=10}"
: "${PF_STOP_TIMEOUT:=5}"
# Key type for pf_tls_make_*: ec (P-256, fast) or rsa (2048).
: "${PF_TLS_KEYTYPE:=ec}"

PF_INSTANCES=""		# names started, in order (pf_stop_all stops in reverse)
PF_ROOT_MADE=0		# 1 when this library made PF_ROOT (and removes it)

# ------------------------------------------------------------ internals

pf__err() {
	echo "postfix.sh: $*" >&2
}

# With PF_DEBUG=1, timestamps of the start and stop phases on stderr.
pf__trace() {
	[ "${PF_DEBUG:-0}" = 1 ] && echo "postfix.sh: $(pf__now_ms) $*" >&2
	return 0
}

# Milliseconds since the epoch (bash 5 $EPOCHREALTIME: no fork).
pf__now_ms() {
	local us=${EPOCHREALTIME//[!0-9]/}
	echo $((us / 1000))
}

pf__check_name() {
	case "$1" in
	"" | *[!A-Za-z0-9_]*)
		pf__err "instance name '$1' must match [A-Za-z0-9_]+"
		return 1 ;;
	esac
	case " $PF_INSTANCES " in
	*" $1 "*)
		pf__err "instance '$1' is already running"
		return 1 ;;
	esac
	return 0
}

# Make PF_ROOT if needed. Postfix refuses to start below a directory that
# others cannot search (a 0700 parent breaks startup, TEST-SERVERS.md), and
# mktemp -d makes 0700 directories: open it to 0711 and check the parents.
pf__root() {
	local d perm path parents=()
	if [ -z "$PF_ROOT" ]; then
		PF_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/pf.XXXXXX") || return 1
		PF_ROOT_MADE=1
	fi
	mkdir -p "$PF_ROOT" && chmod 0711 "$PF_ROOT" || return 1
	d=$(cd "$PF_ROOT" && pwd -P) || return 1
	PF_ROOT=$d
	while [ -n "$d" ]; do
		d=${d%/*}
		parents+=("${d:-/}")
	done
	while read -r perm path; do
		case "$perm" in
		?????????[xt]) ;;
		*)
			pf__err "$path ($perm) is not searchable by others: Postfix cannot run below it; set PF_ROOT or TMPDIR elsewhere"
			return 1 ;;
		esac
	done < <(stat -c '%A %n' "${parents[@]}")
	return 0
}

# Run a postfix command with a pseudo-terminal on stderr: postfix prints its
# errors only to a terminal (TEST-SERVERS.md). Output goes to the file $1.
pf__run_tty() {
	local out=$1 cmd
	shift
	cmd=$(printf '%q ' "$@")
	script -qefc "$cmd" /dev/null >"$out" 2>&1 </dev/null
}

# Add an address to lo unless some interface already has it. Inside a
# private network namespace this touches nothing outside (TEST-SERVERS.md).
pf__addr_up() {
	local addr=$1
	case "$addr" in
	127.0.0.1 | ::1) return 0 ;;
	esac
	if ip -o addr show dev lo | grep -qw -- "$addr"; then
		return 0
	fi
	case "$addr" in
	*:*) ip -6 addr add "$addr/128" dev lo nodad ;;
	*) ip addr add "$addr/8" dev lo ;;
	esac || {
		pf__err "cannot add $addr to lo (run inside unshare --net as root)"
		return 1
	}
}

# host:port as master.cf and bash /dev/tcp want it.
pf__hostport() {
	case "$1" in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

# Poll until ADDR:PORT accepts a connection; with "banner" also read the
# 220 greeting (proves smtpd itself works, not only master's socket).
# Fails early when the master PID in $4 has died.
pf__wait_port() {
	local addr=$1 port=$2 mode=$3 pid=$4 deadline line fd
	deadline=$(($(pf__now_ms) + PF_START_TIMEOUT * 1000))
	while [ "$(pf__now_ms)" -lt "$deadline" ]; do
		if [ -n "$pid" ] && ! pf__alive "$pid"; then
			pf__err "master $pid died before $addr:$port was ready"
			return 1
		fi
		# {fd}: a descriptor bash picks, none of the caller's. The
		# braces keep 2>/dev/null to this one open: on a bare exec it
		# would send the caller's stderr to /dev/null for good.
		if { exec {fd}<>"/dev/tcp/$addr/$port"; } 2>/dev/null; then
			if [ "$mode" = banner ]; then
				line=
				IFS= read -r -t "$PF_START_TIMEOUT" line <&"$fd" || true
				printf 'QUIT\r\n' 1>&"$fd" 2>/dev/null || true
				exec {fd}>&-
				case "$line" in
				220*) return 0 ;;
				esac
				pf__err "$addr:$port greeted with '${line%$'\r'}'"
				return 1
			fi
			exec {fd}>&-
			return 0
		fi
		sleep 0.02
	done
	pf__err "$addr:$port not ready after ${PF_START_TIMEOUT}s"
	return 1
}

# Create the instance skeleton: conf/ with the package's meta files (the
# postfix command runs $meta_directory/postfix-script), queue/, data/.
pf__skeleton() {
	local dir=$1 f
	if [ -e "$dir" ]; then
		pf__err "$dir exists already"
		return 1
	fi
	mkdir -m 0711 "$dir" "$dir/conf" "$dir/queue" "$dir/mail" || return 1
	mkdir -m 0700 "$dir/data" || return 1
	chown postfix: "$dir/data" || return 1
	for f in dynamicmaps.cf dynamicmaps.cf.d postfix-files \
	    postfix-files.d postfix-script post-install main.cf.proto \
	    master.cf.proto; do
		if [ -e "/etc/postfix/$f" ]; then
			cp -a "/etc/postfix/$f" "$dir/conf/" || return 1
		fi
	done
	: >"$dir/maillog"
	pf__queue_dirs "$dir/queue" || return 1
	return 0
}

# Make the queue subdirectories with the owners and modes the package's
# postfix-files lists, and mark the queue for a quick start: "postfix
# start" then skips its integrity checks (post-install create-missing,
# postsuper, find over the queue: some 150 processes, seconds on a busy
# machine). PF_FULL_CHECK=1 keeps Postfix's own checks.
pf__queue_dirs() {
	local q=$1 path type owner group mode rest spec
	local -A dirs=()	# "owner:group:mode" -> directories (one chown/chmod each)
	while IFS=: read -r path type owner group mode rest; do
		case "$path:$type" in
		'$queue_directory/'*:d) ;;
		*) continue ;;
		esac
		case "$owner" in
		'$mail_owner') owner=postfix ;;
		esac
		case "$group" in
		'$setgid_group') group=postdrop ;;
		-) group=root ;;
		esac
		spec=$owner:$group:$mode
		dirs[$spec]="${dirs[$spec]:-} $q/${path#\$queue_directory/}"
	done <"${PF_POSTFIX_FILES:-/etc/postfix/postfix-files}"
	for spec in "${!dirs[@]}"; do
		# shellcheck disable=SC2086
		mkdir -p ${dirs[$spec]} && chown "${spec%:*}" ${dirs[$spec]} &&
		    chmod "${spec##*:}" ${dirs[$spec]} || {
			pf__err "cannot make queue directories${dirs[$spec]}"
			return 1
		}
	done
	if [ ! -d "$q/pid" ] || [ ! -d "$q/public" ]; then
		pf__err "no queue directories made from postfix-files"
		return 1
	fi
	if [ "${PF_FULL_CHECK:-0}" != 1 ]; then
		: >"$q/quick-start"
	fi
	return 0
}

# main.cf lines every instance shares. $1 = instance dir, $2 = address,
# $3 = myhostname.
pf__main_common() {
	local dir=$1 addr=$2 host=$3 proto=ipv4
	case "$addr" in
	*:*) proto=ipv6 ;;
	esac
	cat <<EOF
# Written by tests/integration/postfix.sh: a private test instance.
compatibility_level = 3.6
config_directory = $dir/conf
meta_directory = $dir/conf
queue_directory = $dir/queue
data_directory = $dir/data
# No syslog in the namespace: log to a file (its path must start with one
# of maillog_file_prefixes).
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
myhostname = $host
mydomain = ${host#*.}
myorigin = \$myhostname
mydestination =
relay_domains =
# 127.0.0.1 (the test client) must not be trusted: the bare-LF check
# exempts \$mynetworks (TEST-SERVERS.md).
mynetworks =
inet_interfaces = $addr
inet_protocols = $proto
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# There is no DNS in the namespace: no reverse lookup of the client.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
# Keep the stored message as sent: no header rewriting for loopback
# clients, no added headers.
local_header_rewrite_clients =
always_add_missing_headers = no
# Tests make deliberate errors: answer them at once.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
virtual_mailbox_base = $dir/mail
virtual_mailbox_limit = 0
virtual_minimum_uid = 100
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_transport = virtual
EOF
}

# Write main.cf: the lines on stdin, then the caller's main= lines ($2...),
# each replacing the line of the same parameter above (a repeated
# parameter makes Postfix warn, and warnings stop the start). $1 = file.
pf__write_main() {
	local file=$1 line key
	local -A over=()
	shift
	for line in "$@"; do
		key=${line%%=*}
		key=${key//[[:space:]]/}
		[ -n "$key" ] && over[$key]=1
	done
	while IFS= read -r line; do
		key=${line%%=*}
		key=${key//[[:space:]]/}
		case "$line" in
		"#"* | "") ;;
		*) [ -n "${over[$key]:-}" ] && continue ;;
		esac
		printf '%s\n' "$line"
	done >"$file"
	if [ $# -gt 0 ]; then
		printf '%s\n' "# main= lines of the caller" "$@" >>"$file"
	fi
}

# master.cf with every service unchrooted (a chroot would need copies of
# /etc files and the sasldb under the queue directory). $1 = the smtpd
# line(s).
pf__master_cf() {
	cat <<EOF
# Written by tests/integration/postfix.sh.
# service type  private unpriv  chroot  wakeup  maxproc command + args
$1
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# Start the instance whose files are ready, wait for ADDR:PORT, record the
# master PID and export PF_<NAME>_* variables. $1 name, $2 dir, $3 addr,
# $4 port, $5 readiness mode (banner|connect).
pf__start() {
	local name=$1 dir=$2 addr=$3 port=$4 mode=$5 t0 pid="" deadline
	t0=$(pf__now_ms)
	# Postfix reads a configuration or texthash file again, every 300 ms,
	# while it was modified within the last second (util/load_file.c:
	# it may still be being edited): postconf, postfix and master would
	# each wait up to 2 s. Date the freshly written files a minute back.
	find "$dir/conf" -type f -exec touch -d '1 minute ago' {} + || return 1
	pf__trace "$name: postconf -n"
	# A misspelt parameter (say in a main= line) is only a warning to
	# Postfix: make it an error. ("postfix start" runs the integrity
	# checks itself; "postfix check" again would double the start time.)
	if ! postconf -c "$dir/conf" -n >/dev/null 2>"$dir/check.out" ||
	    [ -s "$dir/check.out" ]; then
		pf__err "$name: configuration problems:"
		cat "$dir/check.out" >&2
		return 1
	fi
	# Registered before the start, so that pf_stop_all cleans up even
	# when the start fails halfway.
	PF_INSTANCES="$PF_INSTANCES $name"
	eval "PF_${name}_DIR=\$dir PF_${name}_PID= PF_${name}_ADDR=\$addr PF_${name}_PORT=\$port PF_${name}_LOG=\$dir/maillog"
	pf__trace "$name: postfix start"
	if ! pf__run_tty "$dir/start.out" postfix -c "$dir/conf" start; then
		pf__err "$name: postfix start failed:"
		cat "$dir/start.out" "$dir/maillog" >&2
		return 1
	fi
	# master -w has written its PID before start returns; poll anyway.
	deadline=$(($(pf__now_ms) + PF_START_TIMEOUT * 1000))
	while [ "$(pf__now_ms)" -lt "$deadline" ]; do
		if [ -s "$dir/queue/pid/master.pid" ]; then
			pid=$(tr -dc 0-9 <"$dir/queue/pid/master.pid")
			[ -n "$pid" ] && break
		fi
		sleep 0.02
	done
	if [ -z "$pid" ]; then
		pf__err "$name: no master PID in $dir/queue/pid/master.pid"
		cat "$dir/start.out" "$dir/maillog" >&2
		return 1
	fi
	echo "$pid" >"$dir/master.pid"
	eval "PF_${name}_PID=\$pid"
	pf__trace "$name: master $pid, waiting for $addr:$port"
	if ! pf__wait_port "$addr" "$port" "$mode" "$pid"; then
		pf__err "$name: maillog follows"
		cat "$dir/maillog" >&2
		return 1
	fi
	eval "PF_${name}_START_MS=\$((\$(pf__now_ms) - t0))"
	pf__trace "$name: ready"
	return 0
}

# ------------------------------------------------------------ TLS material

# pf_tls_make_ca DIR: a test CA in DIR/ca.crt, DIR/ca.key (made once; a
# second call reuses it).
pf_tls_make_ca() {
	local dir=$1
	mkdir -p "$dir" || return 1
	[ -s "$dir/ca.crt" ] && [ -s "$dir/ca.key" ] && return 0
	pf__genkey "$dir/ca.key" || return 1
	openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 2 \
	    -subj "/O=mxsend tests/CN=mxsend test CA" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -out "$dir/ca.crt" 2>"$dir/ca.err" || {
		pf__err "CA: $(cat "$dir/ca.err")"
		return 1
	}
}

# pf_tls_make_cert DIR BASE DNSNAME...: DIR/BASE.crt and DIR/BASE.key for
# the given DNS names (subjectAltName; CN = the first), signed by the CA
# in DIR (made by pf_tls_make_ca). DIR/BASE.chain.pem holds key + cert.
# (valid for $PF_CERT_DAYS days, default 2: tests that look at expiry
# get a certificate close to it on purpose)
pf_tls_make_cert() {
	local dir=$1 base=$2 san="" n
	shift 2
	if [ $# -eq 0 ] || [ ! -s "$dir/ca.key" ]; then
		pf__err "pf_tls_make_cert DIR BASE DNSNAME... (after pf_tls_make_ca DIR)"
		return 1
	fi
	for n in "$@"; do
		san="${san:+$san,}DNS:$n"
	done
	pf__genkey "$dir/$base.key" || return 1
	openssl req -new -key "$dir/$base.key" -subj "/CN=$1" \
	    -out "$dir/$base.csr" 2>"$dir/$base.err" &&
	printf '%s\n' "subjectAltName=$san" "basicConstraints=critical,CA:FALSE" \
	    "keyUsage=critical,digitalSignature,keyEncipherment" \
	    "extendedKeyUsage=serverAuth" >"$dir/$base.ext" &&
	openssl x509 -req -in "$dir/$base.csr" -CA "$dir/ca.crt" \
	    -CAkey "$dir/ca.key" -CAcreateserial -days "${PF_CERT_DAYS:-2}" -sha256 \
	    -extfile "$dir/$base.ext" -out "$dir/$base.crt" \
	    2>>"$dir/$base.err" || {
		pf__err "cert $base: $(cat "$dir/$base.err")"
		return 1
	}
	cat "$dir/$base.key" "$dir/$base.crt" >"$dir/$base.chain.pem"
	chmod 0600 "$dir/$base.chain.pem"
}

pf__genkey() {
	case "$PF_TLS_KEYTYPE" in
	rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$1" 2>/dev/null ;;
	*) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null ;;
	esac || {
		pf__err "cannot make key $1"
		return 1
	}
	chmod 0600 "$1"
}

# ------------------------------------------------------------ MX instances

# pf_mx_start NAME ADDR [KEY=VALUE...]
#   domains="a.test b.test"   virtual_mailbox_domains (required)
#   users="u@a.test v@b.test" known recipients; anyone else gets 550 5.1.1
#   port=25                   listening port
#   hostname=NAME             myhostname (default mx.<first domain>)
#   tls=none|may|encrypt      smtpd_tls_security_level (default none; may
#                             and encrypt need cert= and key=)
#   cert=FILE key=FILE        server certificate and key (PEM)
#   bare_lf=no|normalize|reject   smtpd_forbid_bare_newline (default no)
#   size=BYTES                message_size_limit
#   main="param = value"      extra main.cf line (repeatable); replaces
#                             the library's line for that parameter
# Exports PF_<NAME>_DIR, _PID (master), _ADDR, _PORT, _LOG (maillog),
# _MAILBASE (Maildir base; a user's Maildir is pf_maildir NAME ADDRESS),
# _START_MS (start time). Returns when the port greets with 220.
pf_mx_start() {
	local name=$1 addr=$2 dir opt domains="" users="" port=25 host=""
	local tls=none cert="" key="" bare=no size="" u d extra=()
	if [ $# -lt 2 ]; then
		pf__err "pf_mx_start NAME ADDR [KEY=VALUE...]"
		return 1
	fi
	shift 2
	pf__check_name "$name" || return 1
	for opt in "$@"; do
		case "$opt" in
		domains=*) domains=${opt#*=} ;;
		users=*) users=${opt#*=} ;;
		port=*) port=${opt#*=} ;;
		hostname=*) host=${opt#*=} ;;
		tls=none | tls=may | tls=encrypt) tls=${opt#*=} ;;
		cert=*) cert=${opt#*=} ;;
		key=*) key=${opt#*=} ;;
		bare_lf=no | bare_lf=normalize | bare_lf=reject) bare=${opt#*=} ;;
		size=*) size=${opt#*=} ;;
		main=*) extra+=("${opt#*=}") ;;
		*) pf__err "pf_mx_start $name: unknown option '$opt'"; return 1 ;;
		esac
	done
	if [ -z "$domains" ]; then
		pf__err "pf_mx_start $name: domains= is required"
		return 1
	fi
	if [ "$tls" != none ] && { [ ! -r "$cert" ] || [ ! -r "$key" ]; }; then
		pf__err "pf_mx_start $name: tls=$tls needs readable cert= and key="
		return 1
	fi
	[ -n "$host" ] || host="mx.${domains%% *}"
	pf__root || return 1
	pf__addr_up "$addr" || return 1
	dir=$PF_ROOT/$name
	pf__skeleton "$dir" || return 1

	# texthash needs no postmap. A trailing slash means Maildir; the
	# Maildir is mail/<domain>/<local>/.
	# One mkdir for all the domains: a fork per user costs seconds for
	# a few dozen users on a loaded machine.
	local -A mdoms=()
	: >"$dir/conf/mailboxes"
	for u in $users; do
		case "$u" in
		?*@?*) ;;
		*) pf__err "pf_mx_start $name: user '$u' is not local@domain"; return 1 ;;
		esac
		d=${u##*@}
		printf '%s %s/%s/\n' "$u" "$d" "${u%@*}" >>"$dir/conf/mailboxes"
		mdoms[$dir/mail/$d]=1
	done
	if [ ${#mdoms[@]} -gt 0 ]; then
		mkdir -p "${!mdoms[@]}" || return 1
	fi
	chown -R 65534:65534 "$dir/mail" || return 1

	{
		pf__main_common "$dir" "$addr" "$host"
		echo "virtual_mailbox_domains = $domains"
		echo "virtual_mailbox_maps = texthash:$dir/conf/mailboxes"
		echo "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
		echo "smtpd_recipient_restrictions ="
		echo "smtpd_tls_security_level = $tls"
		if [ "$tls" != none ]; then
			echo "smtpd_tls_cert_file = $cert"
			echo "smtpd_tls_key_file = $key"
			echo "smtpd_tls_loglevel = 1"
		fi
		echo "smtpd_forbid_bare_newline = $bare"
		if [ -n "$size" ]; then
			echo "message_size_limit = $size"
		fi
	} | pf__write_main "$dir/conf/main.cf" "${extra[@]}" || return 1
	pf__master_cf "$(pf__hostport "$addr" "$port") inet n - n - - smtpd" \
	    >"$dir/conf/master.cf"

	pf__start "$name" "$dir" "$addr" "$port" banner || return 1
	eval "PF_${name}_MAILBASE=\$dir/mail"
	return 0
}

# pf_maildir NAME ADDRESS: prints the Maildir of ADDRESS on MX NAME (for the
# relay stand-in, ADDRESS is ignored: everything lands in one Maildir).
pf_maildir() {
	local name=$1 addr=${2:-} dir sink
	eval "dir=\${PF_${name}_DIR:-}"
	if [ -z "$dir" ]; then
		pf__err "pf_maildir: no instance '$name'"
		return 1
	fi
	eval "sink=\${PF_${name}_MAILDIR:-}"
	if [ -n "$sink" ]; then
		echo "$sink"
		return 0
	fi
	echo "$dir/mail/${addr##*@}/${addr%@*}"
}

# ------------------------------------------------------------ relay stand-in

# pf_relay_start NAME ADDR PORT USER PASSWORD [DOMAIN] [KEY=VALUE...]
# The authenticated relay, like smtp.qq.com:465. USER is the login the
# client sends and the only MAIL FROM it may use: "local@domain" (the form
# QQ uses), or a bare name, then the SASL realm and sender domain are
# DOMAIN (default relay.test) and the sender is USER@DOMAIN.
#   mode=wrapper     implicit TLS on PORT (default; smtpd_tls_wrappermode)
#   mode=starttls    STARTTLS required before AUTH (the 587 variant)
#   cert=FILE key=FILE   server certificate (default: made with a test CA
#                    in the instance dir for hostname=, see below)
#   hostname=NAME    myhostname and certificate name (default smtp.<DOMAIN>)
#   user=LOGIN:PASSWORD  another account (repeatable; same rules as USER)
#   size=BYTES       message_size_limit
#   main="param = value"  extra main.cf line (repeatable; replaces the
#                    library's line for that parameter)
# Every accepted message, whatever the recipient, lands in one Maildir
# (pf_maildir NAME). Wrong password: 535 5.7.8; MAIL FROM not owned by
# the login: 553 5.7.1 at MAIL FROM; MAIL FROM without AUTH: 553 5.7.1
# ("not logged in") for an account's address, 554 5.7.1 for any other.
# AUTH is offered only under TLS (smtpd_tls_auth_only).
# Exports PF_<NAME>_DIR, _PID, _ADDR, _PORT, _LOG, _MAILDIR, _CA (the CA
# that signed the certificate, when made here), _LOGIN, _SENDER,
# _START_MS.
pf_relay_start() {
	local name=$1 addr=$2 port=$3 user=$4 pass=$5 domain="" dir opt
	local mode=wrapper cert="" key="" host="" size="" extra=() accounts=()
	local a login pw lpart realm sender smtpd ca="" sasl
	if [ $# -lt 5 ]; then
		pf__err "pf_relay_start NAME ADDR PORT USER PASSWORD [DOMAIN] [KEY=VALUE...]"
		return 1
	fi
	shift 5
	if [ $# -gt 0 ] && [ "${1#*=}" = "$1" ]; then
		domain=$1
		shift
	fi
	pf__check_name "$name" || return 1
	for opt in "$@"; do
		case "$opt" in
		mode=wrapper | mode=starttls) mode=${opt#*=} ;;
		cert=*) cert=${opt#*=} ;;
		key=*) key=${opt#*=} ;;
		hostname=*) host=${opt#*=} ;;
		user=*:*) accounts+=("${opt#*=}") ;;
		size=*) size=${opt#*=} ;;
		main=*) extra+=("${opt#*=}") ;;
		*) pf__err "pf_relay_start $name: unknown option '$opt'"; return 1 ;;
		esac
	done
	if [ -z "$domain" ]; then
		case "$user" in
		*@*) domain=${user##*@} ;;
		*) domain=relay.test ;;
		esac
	fi
	[ -n "$host" ] || host="smtp.$domain"
	pf__root || return 1
	pf__addr_up "$addr" || return 1
	dir=$PF_ROOT/$name
	pf__skeleton "$dir" || return 1
	if [ -z "$cert" ]; then
		pf_tls_make_ca "$dir/pki" &&
		pf_tls_make_cert "$dir/pki" server "$host" || return 1
		cert=$dir/pki/server.crt
		key=$dir/pki/server.key
		ca=$dir/pki/ca.crt
	fi

	# sasldb: one entry per account, readable by group postfix only (an
	# unreadable file gives 454 on every login, TEST-SERVERS.md). The
	# password goes through a pipe, never argv.
	# Debian's Postfix reads smtpd.conf from $config_directory/sasl
	# whatever cyrus_sasl_config_path says (the path is set as well, for
	# other builds).
	sasl=$dir/conf/sasl
	mkdir -m 0750 "$sasl" && chgrp postfix "$sasl" || return 1
	: >"$dir/conf/senders"
	accounts=("$user:$pass" "${accounts[@]}")
	for a in "${accounts[@]}"; do
		login=${a%%:*}
		pw=${a#*:}
		case "$login" in
		*@*) lpart=${login%@*} realm=${login##*@} sender=$login ;;
		*) lpart=$login realm=$domain sender=$login@$domain ;;
		esac
		printf '%s' "$pw" | saslpasswd2 -c -p -f "$sasl/sasldb2" \
		    -u "$realm" "$lpart" || {
			pf__err "pf_relay_start $name: saslpasswd2 failed for $login"
			return 1
		}
		# The owner is the SASL name Postfix reports: local@realm.
		printf '%s %s\n' "$sender" "$lpart@$realm" >>"$dir/conf/senders"
		if [ "$a" = "$user:$pass" ]; then
			eval "PF_${name}_LOGIN=\$login PF_${name}_SENDER=\$sender"
		fi
	done
	chgrp postfix "$sasl/sasldb2" && chmod 0640 "$sasl/sasldb2" ||
		return 1
	cat >"$sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $sasl/sasldb2
mech_list: PLAIN LOGIN
EOF
	mkdir -m 0700 "$dir/mail/sink" && chown -R 65534:65534 "$dir/mail" ||
		return 1

	{
		pf__main_common "$dir" "$addr" "$host"
		echo "virtual_mailbox_domains = static:all"
		echo "virtual_mailbox_maps = static:sink/"
		echo "smtpd_tls_cert_file = $cert"
		echo "smtpd_tls_key_file = $key"
		echo "smtpd_tls_loglevel = 1"
		echo "smtpd_sasl_auth_enable = yes"
		echo "smtpd_sasl_path = smtpd"
		echo "cyrus_sasl_config_path = $sasl"
		echo "smtpd_sasl_security_options = noanonymous"
		echo "smtpd_sasl_local_domain = $domain"
		echo "smtpd_tls_auth_only = yes"
		echo "smtpd_sender_login_maps = texthash:$dir/conf/senders"
		# Judge MAIL FROM when it arrives, as a submission server does.
		echo "smtpd_delay_reject = no"
		echo "smtpd_sender_restrictions = reject_sender_login_mismatch, permit_sasl_authenticated, reject"
		echo "smtpd_relay_restrictions = permit_sasl_authenticated, reject"
		echo "smtpd_recipient_restrictions ="
		if [ -n "$size" ]; then
			echo "message_size_limit = $size"
		fi
	} | pf__write_main "$dir/conf/main.cf" "${extra[@]}" || return 1
	smtpd="$(pf__hostport "$addr" "$port") inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt"
	if [ "$mode" = wrapper ]; then
		smtpd="$smtpd
  -o smtpd_tls_wrappermode=yes"
	fi
	pf__master_cf "$smtpd" >"$dir/conf/master.cf"

	if [ "$mode" = wrapper ]; then
		pf__start "$name" "$dir" "$addr" "$port" connect || return 1
	else
		pf__start "$name" "$dir" "$addr" "$port" banner || return 1
	fi
	eval "PF_${name}_MAILDIR=\$dir/mail/sink PF_${name}_CA=\$ca"
	return 0
}

# ------------------------------------------------------------ mail store

# pf_wait_mail MAILDIR COUNT [TIMEOUT]: poll (every 20 ms, at most TIMEOUT
# seconds, default 10) until MAILDIR/new holds at least COUNT messages;
# print their paths, oldest name first, one a line. On timeout print what
# is there to stderr and return 1. (A store Postfix cannot write still
# gives 250 to the client, then the mail waits in the queue: see the
# instance's maillog.)
pf_wait_mail() {
	local md=$1 count=$2 timeout=${3:-10} deadline n f files
	deadline=$(($(pf__now_ms) + timeout * 1000))
	while :; do
		files=()
		for f in "$md"/new/*; do
			[ -f "$f" ] && files+=("$f")
		done
		n=${#files[@]}
		if [ "$n" -ge "$count" ]; then
			printf '%s\n' "${files[@]}"
			return 0
		fi
		if [ "$(pf__now_ms)" -ge "$deadline" ]; then
			pf__err "pf_wait_mail: $n of $count messages in $md/new after ${timeout}s"
			return 1
		fi
		sleep 0.02
	done
}

# pf_message_body FILE: print the stored message as the client sent it
# (line ends LF): the file without the Return-Path, X-Original-To and
# Delivered-To headers and the one Received header (with its continuation
# lines) that Postfix puts in front. Byte-exact: only a prefix is cut.
pf_message_body() {
	local file=$1 skip
	[ -r "$file" ] || { pf__err "pf_message_body: cannot read $file"; return 1; }
	skip=$(LC_ALL=C awk '
		BEGIN { n = 0; inrcv = 0 }
		inrcv && /^[ \t]/ { n += length($0) + 1; next }
		inrcv { exit }
		/^(Return-Path|X-Original-To|Delivered-To):/ { n += length($0) + 1; next }
		/^Received:/ { inrcv = 1; n += length($0) + 1; next }
		{ exit }
		END { print n }' "$file") || return 1
	tail -c "+$((skip + 1))" "$file"
}

# ------------------------------------------------------------ stopping

# Is PID running? A zombie counts as gone: a daemonized master's parent is
# init (or the namespace's), which may reap it only a second later.
pf__alive() {
	local st
	[ -n "$1" ] && read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# Print the PIDs of the processes whose environment names config directory
# $1: the master and everything it or postfix-script started (Postfix
# passes MAIL_CONFIG to all of them). One grep over /proc, no name matching.
pf__pids_of() {
	grep -lzxF "MAIL_CONFIG=$1" /proc/[0-9]*/environ 2>/dev/null |
	    sed -n 's,^/proc/\([0-9]*\)/environ$,\1,p' | grep -vx "$$"
}

# pf_stop NAME: "postfix -c DIR stop" (or, with PF_STOP_FAST=1, SIGTERM to
# the recorded master PID), then wait until the master PID and every
# process of that instance are gone (KILL by PID after PF_STOP_TIMEOUT s).
# Sets PF_<NAME>_STOP_MS. Returns 1 if it had to kill.
pf_stop() {
	local name=$1 dir pid t0 deadline p alive rc=0
	case " $PF_INSTANCES " in
	*" $name "*) ;;
	*) return 0 ;;
	esac
	eval "dir=\${PF_${name}_DIR:-} pid=\${PF_${name}_PID:-}"
	t0=$(pf__now_ms)
	if [ "${PF_STOP_FAST:-0}" = 1 ] && pf__alive "$pid"; then
		# What "postfix stop" does (master(8): SIGTERM stops the master
		# and its children), minus postfix-script's "sleep 1" when the
		# master has not exited by its first check.
		kill -TERM "$pid" 2>/dev/null || true
	else
		pf__run_tty "$dir/stop.out" postfix -c "$dir/conf" stop || true
	fi
	pf__trace "$name: stop sent"
	deadline=$(($(pf__now_ms) + PF_STOP_TIMEOUT * 1000))
	while :; do
		alive=
		pf__alive "$pid" && alive=$pid
		for p in $(pf__pids_of "$dir/conf"); do
			[ "$p" = "$pid" ] || ! pf__alive "$p" || alive="$alive $p"
		done
		[ -z "$alive" ] && break
		if [ "$(pf__now_ms)" -ge "$deadline" ]; then
			pf__err "pf_stop $name: still running after ${PF_STOP_TIMEOUT}s:$alive; killing"
			for p in $alive; do
				kill -KILL "$p" 2>/dev/null || true
			done
			rc=1
			break
		fi
		sleep 0.01
	done
	# shellcheck disable=SC2086
	PF_INSTANCES=$(printf '%s\n' $PF_INSTANCES | grep -vx -- "$name" | tr '\n' ' ')
	eval "PF_${name}_STOP_MS=\$((\$(pf__now_ms) - t0))"
	return $rc
}

# pf_stop_all: stop every instance started here (newest first); remove
# PF_ROOT when this library made it, unless PF_KEEP=1. For the EXIT trap.
pf_stop_all() {
	local n list="" rc=0
	for n in $PF_INSTANCES; do
		list="$n $list"
	done
	for n in $list; do
		pf_stop "$n" || rc=1
	done
	if [ "$PF_ROOT_MADE" = 1 ] && [ "$PF_KEEP" != 1 ] && [ -n "$PF_ROOT" ]; then
		rm -rf "$PF_ROOT"
		PF_ROOT=
		PF_ROOT_MADE=0
	fi
	return $rc
}
