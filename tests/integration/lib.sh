# shellcheck shell=bash
# shellcheck disable=SC2034 # globals set here are read by the test scripts
#
# lib.sh: the harness of the integration tests (tests/integration/*.test).
# A test script is a bash script that sources this file, calls
# sandbox_enter "$@" first, starts the real servers it needs on loopback,
# runs mxsend against them and reports TAP through the check_* helpers,
# then ends with tap_done.
#
# What it owns: the private namespaces the test runs in, a temporary
# directory, and the processes it started (their PIDs are remembered and
# only those are stopped, by PID, from the EXIT trap). It never sends a
# packet off the machine: inside the sandbox there is only a loopback
# interface, and every server binds 127.0.0.1.
#
# Requirements (Debian packages): bash, util-linux (unshare), iproute2 (ip),
# unbound, bind9-dnsutils (dig), jq, python3 (a UDP socket that never
# answers). Tests need root for the namespaces.
#
# Environment: MXSEND (the binary, set by `make check`), MXSEND_KEEP_TMP=1
# keeps the temporary directory for a post mortem.

# ---------------------------------------------------------------- TAP

TAP_N=0        # tests reported so far
TAP_FAILED=0   # of which failed
TEST_PIDS=""   # processes this test started, stopped by cleanup
TEST_TMP=""    # the test's temporary directory
PYTHON=/usr/bin/python3   # Debian's, not whatever a version manager puts first
[ -x "$PYTHON" ] || PYTHON=python3

# Prints each line of its arguments as a TAP diagnostic ("# ...").
diag()
{
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

# Prints a labelled, possibly multi-line value as diagnostics, cut to 40
# lines so that a huge output does not drown the log. Pure bash: a failing
# check starts no process.
diag_value()
{
	local label=$1 lines i
	mapfile -t lines <<<"$2"
	printf '# %s:\n' "$label"
	for ((i = 0; i < ${#lines[@]} && i < 40; i++)); do
		printf '#     %s\n' "${lines[i]}"
	done
	[ "${#lines[@]}" -gt 40 ] && printf '#     ... (%d lines in all)\n' "${#lines[@]}"
	return 0
}

TAP_TODO=""    # set by todo: results are marked "# TODO" (known bugs)

# todo REASON: the checks until todo_end describe behaviour that is known
# to be missing. A failure is reported as "not ok ... # TODO REASON" (an
# expected failure for automake's tap-driver) and a pass as an unexpected
# pass, which fails the run so that the marker gets removed.
todo() { TAP_TODO=${*//#/No.}; }
todo_end() { TAP_TODO=""; }

# tap_result RC DESC: "ok" when RC is 0, "not ok" otherwise.
tap_result()
{
	local rc=$1 desc=${2//#/No.} dir=""   # '#' would start a TAP directive
	desc=${desc//$'\n'/ }
	[ -n "$TAP_TODO" ] && dir=" # TODO $TAP_TODO"
	TAP_N=$((TAP_N + 1))
	if [ "$rc" -eq 0 ]; then
		printf 'ok %d - %s%s\n' "$TAP_N" "$desc" "$dir"
		return 0
	fi
	printf 'not ok %d - %s%s\n' "$TAP_N" "$desc" "$dir"
	[ -n "$TAP_TODO" ] || TAP_FAILED=$((TAP_FAILED + 1))
	return 1
}

ok() { tap_result 0 "$*"; }
not_ok() { tap_result 1 "$*"; }

# check_eq WANT GOT DESC
check_eq()
{
	if [ "$1" = "$2" ]; then
		tap_result 0 "$3"
		return 0
	fi
	tap_result 1 "$3"
	diag_value "want" "$1"
	diag_value "got" "$2"
	return 1
}

# text_has_line REGEX TEXT: some line of TEXT matches REGEX (bash's
# extended regular expressions; no process is started, which matters when
# a test makes hundreds of checks on a loaded machine).
text_has_line()
{
	local re=$1 line
	while IFS= read -r line; do
		[[ $line =~ $re ]] && return 0
	done <<<"$2"
	return 1
}

# check_match REGEX TEXT DESC: some line of TEXT matches the extended
# regular expression REGEX.
check_match()
{
	if text_has_line "$1" "$2"; then
		tap_result 0 "$3"
		return 0
	fi
	tap_result 1 "$3"
	diag_value "want a line matching" "$1"
	diag_value "got" "$2"
	return 1
}

# check_no_match REGEX TEXT DESC: no line of TEXT matches REGEX.
check_no_match()
{
	if ! text_has_line "$1" "$2"; then
		tap_result 0 "$3"
		return 0
	fi
	tap_result 1 "$3"
	diag_value "want no line matching" "$1"
	diag_value "got" "$2"
	return 1
}

# check_cmp A OP B DESC: numeric comparison (OP is one of < <= > >= == !=),
# decimals allowed.
check_cmp()
{
	local int='^-?[0-9]+$' r=1
	if [[ $1 =~ $int && $3 =~ $int ]]; then
		case $2 in
		"<") ((${1} < ${3})) && r=0 ;;
		"<=") ((${1} <= ${3})) && r=0 ;;
		">") ((${1} > ${3})) && r=0 ;;
		">=") ((${1} >= ${3})) && r=0 ;;
		"==") ((${1} == ${3})) && r=0 ;;
		"!=") ((${1} != ${3})) && r=0 ;;
		esac
	elif awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
		a += 0; b += 0
		if (op == "<") r = a < b; else if (op == "<=") r = a <= b
		else if (op == ">") r = a > b; else if (op == ">=") r = a >= b
		else if (op == "==") r = a == b; else if (op == "!=") r = a != b
		else r = 0
		exit !r }'; then
		r=0
	fi
	if [ "$r" -eq 0 ]; then
		tap_result 0 "$4"
		return 0
	fi
	tap_result 1 "$4"
	diag "want: $1 $2 $3 (false)"
	return 1
}

# check_cmd DESC CMD...: the command succeeds; its output is shown if not.
check_cmd()
{
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		tap_result 0 "$desc"
		return 0
	fi
	tap_result 1 "$desc"
	diag_value "command" "$*"
	diag_value "output" "$out"
	return 1
}

# bail_out REASON: stops the whole test file; the TAP harness counts it as
# an error (a skip would look like a pass).
bail_out()
{
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# tap_done: prints the plan and exits 0 when every test passed.
tap_done()
{
	printf '1..%d\n' "$TAP_N"
	[ "$TAP_FAILED" -eq 0 ] || diag "$TAP_FAILED of $TAP_N tests failed"
	exit $((TAP_FAILED > 0))
}

SECTION_T=""     # when the current section started
SECTION_NAME=""  # and its name

# section NAME: starts a named part of the test; the time the previous
# part took is printed as a diagnostic, which keeps slow parts visible.
section()
{
	local t
	t=$(now_ms)
	[ -n "$SECTION_T" ] && diag "$SECTION_NAME: $((t - SECTION_T)) ms"
	SECTION_T=$t
	SECTION_NAME=$1
}

# ---------------------------------------------------------------- sandbox

# require_cmds CMD...: bails out naming every command that is missing.
require_cmds()
{
	local c missing=""
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] || bail_out "missing commands:$missing (see tests/integration/lib.sh for the packages)"
}

# await_exit PID: waits for a process that was sent TERM; bounded: one
# that ignores TERM for 5 s gets KILL.
await_exit()
{
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup()
{
	local pid
	for pid in $TEST_PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $TEST_PIDS; do
		await_exit "$pid"
	done
	TEST_PIDS=""
	if [ -n "$TEST_TMP" ] && [ -d "$TEST_TMP" ]; then
		if [ "${MXSEND_KEEP_TMP:-}" = 1 ]; then
			printf '# kept %s\n' "$TEST_TMP"
		else
			rm -rf -- "$TEST_TMP"
		fi
	fi
}

# track_pid PID: cleanup stops it.
track_pid() { TEST_PIDS="$TEST_PIDS $1"; }

# untrack_pid PID
untrack_pid()
{
	local p rest=""
	for p in $TEST_PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	TEST_PIDS=$rest
}

# stop_pid PID: stops one process this test started and waits for it.
stop_pid()
{
	local pid=$1
	kill -TERM "$pid" 2>/dev/null
	await_exit "$pid"
	untrack_pid "$pid"
}

# sandbox_enter "$@": re-runs the calling script in fresh network, mount
# and PID namespaces, unless it already runs in one. Inside, only a
# loopback interface exists (so 127.0.0.0/8 and every port are ours and no
# packet can leave), bind mounts are private to the test, and when the
# script ends the kernel ends every process left in its PID namespace: a
# test cannot leave a server running, even when it is killed.
sandbox_enter()
{
	if [ "${MXSEND_IN_SANDBOX:-}" != 1 ]; then
		[ "$(id -u)" = 0 ] ||
			bail_out "integration tests need root (unshare --net); run make check as root"
		require_cmds unshare ip
		# A PID namespace where the kernel allows one; network and mount
		# namespaces are required.
		if unshare --net --mount --pid --fork --kill-child --mount-proc true 2>/dev/null; then
			# shellcheck disable=SC2093 # the exec is the point
			MXSEND_IN_SANDBOX=1 exec unshare --net --mount --pid --fork --kill-child \
				--mount-proc -- "$BASH" "$0" "$@"
		fi
		# shellcheck disable=SC2093
		MXSEND_IN_SANDBOX=1 exec unshare --net --mount -- "$BASH" "$0" "$@"
		bail_out "cannot run unshare --net --mount"
	fi
	ip link set lo up || bail_out "cannot bring up lo in the network namespace"
	# mxsend queues what it defers, by default in /var/spool/mxsend as
	# root: a tmpfs over /var/spool, in this mount namespace only, keeps
	# every test's spool off the host.
	mount -t tmpfs -o mode=0755,size=64m tmpfs /var/spool ||
		bail_out "cannot mount a private /var/spool"
	TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mxsend-$(basename "$0" .test).XXXXXX") ||
		bail_out "cannot make a temporary directory"
	trap cleanup EXIT
	# The same for what mxsend keeps between runs as root (the
	# blocked-port-25 memory in /var/lib/mxsend): an empty private copy,
	# so no test inherits another's state or leaves its own on the host.
	mkdir -p /var/lib/mxsend &&
		mount -t tmpfs -o mode=0700,size=1m tmpfs /var/lib/mxsend ||
		bail_out "cannot mount a private /var/lib/mxsend"
	trap 'exit 130' INT
	trap 'exit 143' TERM
	[ -n "${MXSEND:-}" ] || bail_out "MXSEND is not set (run through make check)"
	[ -x "$MXSEND" ] || bail_out "MXSEND=$MXSEND is not executable"
}

# ---------------------------------------------------------------- helpers

# now_ms: wall clock in milliseconds (bash 5's EPOCHREALTIME).
now_ms()
{
	local t=${EPOCHREALTIME/[.,]/}
	printf '%s\n' $((t / 1000))
}

# free_port: prints a port on 127.0.0.1 that is free for both UDP and TCP
# right now. Inside the sandbox any port is free; outside it this keeps
# the same code working.
free_port()
{
	"$PYTHON" -c '
import socket
for _ in range(200):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    u.close()
    t.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
'
}

# wait_for TIMEOUT_MS CMD...: polls CMD every 50 ms until it succeeds;
# returns 1 when TIMEOUT_MS passed first.
wait_for()
{
	local limit=$1 start
	shift
	start=$(now_ms)
	until "$@"; do
		[ $(($(now_ms) - start)) -lt "$limit" ] || return 1
		sleep 0.05
	done
	return 0
}

# run_cmd NAME CMD...: runs CMD with stdout in $TEST_TMP/NAME.out and
# stderr in $TEST_TMP/NAME.err (stdin is the caller's). Sets RUN_RC,
# RUN_MS (wall time), RUN_OUT and RUN_ERR (the two files).
run_cmd()
{
	local name=$1 start
	shift
	RUN_OUT=$TEST_TMP/$name.out
	RUN_ERR=$TEST_TMP/$name.err
	start=$(now_ms)
	"$@" >"$RUN_OUT" 2>"$RUN_ERR"
	RUN_RC=$?
	RUN_MS=$(($(now_ms) - start))
	return 0
}

# ---------------------------------------------------------------- unbound

UNBOUND_N=0   # instances started, for unique directories

# unbound_start ZONE: starts unbound in the foreground on 127.0.0.1 and a
# free port, serving ZONE (its text, or a file holding it), and waits until
# it answers. ZONE lines are resource records in zone-file syntax
# ("d.test. 300 IN MX 10 mx.d.test."), each served as local-data; a line
# whose first word ends in ':' is an unbound server: directive passed as it
# is (local-zone:, local-data-ptr:, ...); '#' lines and blank lines are
# skipped.
#
# Fixed names besides ZONE (every other name is NXDOMAIN, an empty type
# NODATA: the local zones "." and "test." are static, so unbound never
# asks a server elsewhere):
#   *.servfail.test.  SERVFAIL within about 50 ms: a stub zone whose only
#                     server is a loopback port where nothing listens, with
#                     unbound's retries and timeouts cut down;
#   *.refused.test.   REFUSED (local-zone refuse).
#
# Sets UNBOUND_PID, UNBOUND_PORT, UNBOUND_ADDR (127.0.0.1:PORT, what
# `mxsend --dns` takes), UNBOUND_DIR, UNBOUND_LOG and UNBOUND_START_MS (how
# long start-up took). Bails out if unbound does not come up in 10 s.
unbound_start()
{
	local zone=$1 dir conf dead line word start i
	require_cmds unbound dig
	UNBOUND_N=$((UNBOUND_N + 1))
	dir=$TEST_TMP/unbound.$UNBOUND_N
	mkdir -p "$dir" || bail_out "cannot make $dir"
	conf=$dir/unbound.conf
	UNBOUND_DIR=$dir
	UNBOUND_LOG=$dir/unbound.log
	[ -f "$zone" ] && zone=$(cat "$zone")
	for ((i = 0; i < 5; i++)) do
		UNBOUND_PORT=$(free_port) || bail_out "no free port for unbound"
		dead=$(free_port) || bail_out "no free port"
		[ "$dead" != "$UNBOUND_PORT" ] && break
	done
	{
		cat <<-EOF
		server:
			interface: 127.0.0.1
			port: $UNBOUND_PORT
			username: ""
			chroot: ""
			pidfile: ""
			directory: "$dir"
			do-daemonize: no
			use-syslog: no
			logfile: ""
			log-time-ascii: yes
			verbosity: 1
			num-threads: 1
			module-config: "iterator"
			do-ip6: no
			do-ip4: yes
			access-control: 127.0.0.0/8 allow
			# The stub zone below points at loopback.
			do-not-query-localhost: no
			# SERVFAIL fast: one try per server, a short first wait for a
			# server never seen, a small cap on the backed-off wait, and
			# no dropping of replies that took long (discard-timeout 0);
			# measured at about 50 ms a name in the sandbox.
			outbound-msg-retry: 1
			unknown-server-time-limit: 100
			infra-cache-max-rtt: 200
			discard-timeout: 0
			# Answers in the order of the zone, so tests can check that
			# mxsend keeps resolver order (DLV-04).
			rrset-roundrobin: no
			# Nothing is ever looked up outside: a name not served
			# here is NXDOMAIN, even outside a network namespace.
			local-zone: "." static
			local-zone: "test." static
			local-zone: "refused.test." refuse
			local-zone: "servfail.test." transparent
		EOF
		while IFS= read -r line; do
			line=${line#"${line%%[![:space:]]*}"}
			[ -z "$line" ] && continue
			case $line in \#*) continue ;; esac
			word=${line%%[[:space:]]*}
			if [ "${word%:}" != "$word" ]; then
				printf '\t%s\n' "$line"
			elif [ "${line#*\"}" != "$line" ]; then
				# Double quotes inside (TXT): unbound takes single ones.
				printf "\\tlocal-data: '%s'\\n" "$line"
			else
				printf '\tlocal-data: "%s"\n' "$line"
			fi
		done <<<"$zone"
		printf '%s' "$UNBOUND_AUTH_LOCAL"
		cat <<-EOF
		stub-zone:
			name: "servfail.test."
			stub-addr: 127.0.0.1@$dead
		EOF
		printf '%s' "$UNBOUND_AUTH_CONF"
	} >"$conf"
	UNBOUND_AUTH_LOCAL=""
	UNBOUND_AUTH_CONF=""
	start=$(now_ms)
	unbound -d -c "$conf" >"$UNBOUND_LOG" 2>&1 &
	UNBOUND_PID=$!
	track_pid "$UNBOUND_PID"
	UNBOUND_ADDR=127.0.0.1:$UNBOUND_PORT
	# Ready when it answers a query (any answer); bounded, no fixed sleep.
	if ! wait_for 10000 unbound_answers "$UNBOUND_PORT" "$UNBOUND_PID"; then
		diag_value "unbound log" "$(tail -n 20 "$UNBOUND_LOG")"
		bail_out "unbound did not answer on $UNBOUND_ADDR within 10 s"
	fi
	UNBOUND_START_MS=$(($(now_ms) - start))
	export UNBOUND_ADDR UNBOUND_PORT UNBOUND_PID
}

UNBOUND_AUTH_CONF=""    # auth-zone: sections for the next unbound_start
UNBOUND_AUTH_LOCAL=""   # and the local-zone: lines they need

# unbound_auth_zone ORIGIN RECORDS: the next unbound_start also serves
# ORIGIN (e.g. "chain.test.") as an authoritative zone from a zone file
# holding RECORDS (zone-file lines relative to $ORIGIN; SOA and NS are
# added). Unlike local-data, an authoritative zone completes CNAME chains
# that stay inside it (RFC 1034 4.3.2), as a real server would, so a test
# can compare mxsend against both kinds of answer.
unbound_auth_zone()
{
	local origin=$1 records=$2 file
	mkdir -p "$TEST_TMP/zones"
	file=$TEST_TMP/zones/${origin%.}.zone
	{
		# shellcheck disable=SC2016 # zone-file directives, not shell
		printf '$ORIGIN %s\n$TTL 300\n' "$origin"
		printf '@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 300\n' "$origin" "$origin"
		printf '@ IN NS ns.%s\n' "$origin"
		printf '%s\n' "$records"
	} >"$file"
	UNBOUND_AUTH_CONF+=$(printf 'auth-zone:\n\tname: "%s"\n\tzonefile: "%s"\n\tfor-downstream: yes\n\tfor-upstream: no\n\tfallback-enabled: no\n' "$origin" "$file")$'\n'
	# Under test. the static local zone would answer first: let the
	# query through to the auth zone.
	UNBOUND_AUTH_LOCAL+=$(printf '\tlocal-zone: "%s" transparent\n' "$origin")$'\n'
}

# unbound_answers PORT PID: one query; fails if no reply, bails out if the
# server has died.
unbound_answers()
{
	kill -0 "$2" 2>/dev/null || {
		diag_value "unbound log" "$(tail -n 20 "$UNBOUND_LOG")"
		bail_out "unbound exited during start-up"
	}
	dig +time=1 +tries=1 -p "$1" @127.0.0.1 readiness.test. A >/dev/null 2>&1
}

# unbound_stop: stops the last unbound started.
unbound_stop()
{
	[ -n "${UNBOUND_PID:-}" ] && stop_pid "$UNBOUND_PID"
	UNBOUND_PID=""
}

# ---------------------------------------------------------------- blackhole

# blackhole_start: a UDP socket on 127.0.0.1 that reads every datagram and
# never answers: a DNS server that does not answer. Each datagram it gets
# adds a line to $BLACKHOLE_LOG. Sets BLACKHOLE_PID, BLACKHOLE_PORT,
# BLACKHOLE_ADDR and BLACKHOLE_LOG.
blackhole_start()
{
	local dir=$TEST_TMP/blackhole.$RANDOM
	mkdir -p "$dir"
	BLACKHOLE_LOG=$dir/received
	: >"$BLACKHOLE_LOG"
	"$PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
log = open(sys.argv[2], "a", buffering=1)
while True:
    data, peer = s.recvfrom(65535)
    log.write("%d bytes from %s:%d\n" % (len(data), peer[0], peer[1]))
' "$dir/port" "$BLACKHOLE_LOG" 2>"$dir/stderr" &
	BLACKHOLE_PID=$!
	track_pid "$BLACKHOLE_PID"
	wait_for 10000 test -s "$dir/port" ||
		bail_out "the blackhole DNS server did not start: $(cat "$dir/stderr")"
	BLACKHOLE_PORT=$(cat "$dir/port")
	BLACKHOLE_ADDR=127.0.0.1:$BLACKHOLE_PORT
	export BLACKHOLE_ADDR
}
