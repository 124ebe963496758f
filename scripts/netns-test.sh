#!/usr/bin/env bash
# netns-test.sh: peerchat between two hosts. Two network namespaces joined by
# a veth pair stand for alice's and bob's machines, each with its own IPv4
# and IPv6 address; the real binary listens in one and dials from the other,
# with the certificate files laid out as README.md's "Chat across two
# machines" says (bob's side never sees ca.key or alice.key).
#
# What it checks: chats both ways by IPv4 address, by --peer name and over
# IPv6; clients from another CA, without a certificate or with the wrong name
# refused on both sides; the network mistakes (nobody listening, a firewall
# that drops or rejects, an address nobody has), each by its exit code and
# the line it prints; once reconnect exists (issue 4), a link taken down
# mid-conversation; and the host-name attack (issue 13): carol, with a
# certificate that also names alice's host and addresses, at alice's
# address, refused by bob's --peer alice both as dialer and as listener.
# Then that its own cleanup holds on every way out.
#
# Containment: every address used (10.203.0.0/24, fd00:203::/64) exists only
# inside the two namespaces, which have no default route and no link but the
# veth pair between them; peerchat, openssl and nft run only inside them
# (ip netns exec), so no packet of this test leaves them.
#
# Each host's processes run with that host's folder as HOME, XDG_CONFIG_HOME
# and XDG_DATA_HOME under it, so that peerchat's history, contacts and
# config land in this run's temp directory, never the real user's.
#
# Cleanup: one EXIT trap (INT, TERM and HUP exit through it) ends the
# processes this run started, by their ids, deletes the namespaces this run
# created, by their names (which hold this run's PID), and removes its temp
# directory. Only SIGKILL escapes it; a later run names what was left.
#
# Prerequisites: root, iproute2 (ip, ss), openssl, nft (the firewall cases),
# bin/peerchat (make test-netns builds it). Where one is missing it prints
# "SKIP: why" and exits 0; under CI (CI set) it fails instead, because
# .ci/run installs them.
#
# usage: scripts/netns-test.sh [-v] [--no-cleanup-check]
#   -v                   show every process started and the stderr of each
#   --no-cleanup-check   skip the self-check of the cleanup (runs itself with
#                        NETNS_TEST_FAIL_AT=setup|listening|chatting and
#                        under SIGINT and SIGTERM, then looks for leftovers)
# env: PEERCHAT=path to the binary (default bin/peerchat);
#      NETNS_TEST_RECONNECT=force runs the link-down case even without reconnect.
set -euo pipefail
set -E
LC_ALL=C.UTF-8
export LC_ALL
export NO_COLOR=1

prog=netns-test
here=$(cd "$(dirname "$0")/.." && pwd)
self=$(cd "$(dirname "$0")" && pwd)/${0##*/}
PEERCHAT=${PEERCHAT:-$here/bin/peerchat}
GEN_CERTS=$here/scripts/gen-certs.sh

# The two hosts. Names carry this run's PID so that parallel runs never meet
# and leftovers say whose they are.
ns_a=peerchat-$$-alice
ns_b=peerchat-$$-bob
if_a=pc-alice
if_b=pc-bob
a4=10.203.0.1           # alice, in her certificate
a4_other=10.203.0.3     # alice too, but not in her certificate
a4_drop=10.203.0.4      # alice behind a firewall that drops (ufw's "deny")
a4_reject=10.203.0.5    # alice behind a firewall that rejects (firewalld's default)
nobody4=10.203.0.9      # on the link, but no host has it
b4=10.203.0.2
a6=fd00:203::1
b6=fd00:203::2
port=7443
closed_port=7444

wait_limit=10 # seconds, for any single event; network timeouts wait longer

verbose=
cleanup_check=1
for arg; do
	case $arg in
	-v) verbose=1 ;;
	--no-cleanup-check) cleanup_check= ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*)
		printf '%s: unknown argument %s; see %s --help\n' "$prog" "$arg" "$0" >&2
		exit 2
		;;
	esac
done
# A run started by the cleanup check is the thing checked: no recursion.
if [ -n "${NETNS_TEST_INNER-}" ]; then
	cleanup_check=
fi

say() { printf '%s: %s\n' "$prog" "$*"; }

# note LINE...: a detail of the current check (the lines it captured),
# shown under its result.
details=()
note() { details+=("$@"); }
flush_notes() {
	if [ ${#details[@]} -gt 0 ]; then
		printf '       %s\n' "${details[@]}"
	fi
	details=()
}

now_us() {
	if [ -n "${EPOCHREALTIME-}" ]; then
		printf '%s' "${EPOCHREALTIME/[.,]/}"
	else
		date +%s%6N
	fi
}

# since START_US: seconds elapsed, with one decimal.
since() {
	local d=$(($(now_us) - $1))
	printf '%d.%ds' $((d / 1000000)) $((d / 100000 % 10))
}

# ---- prerequisites ------------------------------------------------------------

# missing REASON: a prerequisite is missing. Skip, visibly; but CI installs
# every prerequisite, so there a skip would hide a test that never ran.
missing() {
	if [ -n "${CI-}" ]; then
		say "FAIL: $1; CI must run this test (.ci/run installs what it needs)"
		exit 1
	fi
	say "SKIP: $1"
	exit 0
}

[ "$(uname -s)" = Linux ] || missing "network namespaces need Linux"
[ "$(id -u)" = 0 ] || missing "needs root to make network namespaces; run: sudo make test-netns"
command -v ip >/dev/null || missing "iproute2 missing (no ip command); install it (Debian: apt-get install iproute2)"
command -v ss >/dev/null || missing "iproute2 missing (no ss command); install it (Debian: apt-get install iproute2)"
command -v openssl >/dev/null || missing "openssl missing; install it (Debian: apt-get install openssl)"
if [ ! -x "$PEERCHAT" ]; then
	say "error: $PEERCHAT is not built; run make test-netns, which builds it"
	exit 1
fi
have_nft=1
if ! command -v nft >/dev/null; then
	[ -z "${CI-}" ] || missing "nft missing (the firewall cases need it); install it (Debian: apt-get install nftables)"
	have_nft=
fi

# ---- results and cleanup ------------------------------------------------------

passed=0 failed=0 skipped=0
case_name='' case_start=''
tmp=
made_ns=()                  # namespaces this run created, the only ones it deletes
declare -A pid=() infd=()   # processes this run started, by name, while they run
open_fds=()                 # our write ends of their stdin FIFOs

# begin DESCRIPTION: a check starts.
begin() {
	case_name=$1
	case_start=$(now_us)
}

ok() {
	passed=$((passed + 1))
	printf 'ok   %-72s %s\n' "$case_name" "($(since "$case_start"))"
	flush_notes
}

# skip REASON
skip() {
	skipped=$((skipped + 1))
	printf 'skip %s\n' "$case_name"
	note "SKIP: $1"
	flush_notes
}

# fail REASON: the check failed. Show what every process printed, then stop;
# the EXIT trap cleans up.
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s: %b\n' "$case_name" "$1"
	flush_notes
	if [ -n "$tmp" ]; then
		local f
		for f in "$tmp"/*.err "$tmp"/*.out; do
			[ -s "$f" ] || continue
			printf '  --- %s\n' "${f#"$tmp"/}"
			tail -n 15 "$f" | sed 's/^/  | /'
		done
	fi
	summary
	exit 1
}

summary() {
	say "$passed passed, $failed failed, $skipped skipped"
}

trap 'say "error: line $LINENO: \"$BASH_COMMAND\" failed"' ERR

# cleanup undoes everything this run made, and only that.
cleanup() {
	local rc=$? ns p t0 left
	trap - EXIT INT TERM HUP ERR
	set +e
	# Our processes first, by id: those we started, and anything else inside
	# our own namespaces (nothing else should be there).
	local -a ours=("${pid[@]}")
	for ns in "${made_ns[@]}"; do
		# shellcheck disable=SC2207 # pids are words
		ours+=($(ip netns pids "$ns" 2>/dev/null))
	done
	if [ ${#ours[@]} -gt 0 ]; then
		kill -TERM "${ours[@]}" 2>/dev/null
		t0=$(now_us)
		while :; do
			left=()
			for p in "${ours[@]}"; do
				if kill -0 "$p" 2>/dev/null; then left+=("$p"); fi
			done
			[ ${#left[@]} -gt 0 ] || break
			if (($(now_us) - t0 > 3000000)); then
				kill -KILL "${left[@]}" 2>/dev/null
				break
			fi
			sleep 0.05
		done
		# Reap ours only: waiting for every child could wait on anything.
		if [ ${#pid[@]} -gt 0 ]; then
			wait "${pid[@]}" 2>/dev/null
		fi
	fi
	# Deleting alice's namespace also destroys the veth pair.
	for ns in "${made_ns[@]}"; do
		ip netns del "$ns" || say "error: could not delete namespace $ns; remove it with: ip netns del $ns"
	done
	if [ -n "$tmp" ]; then
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# checkpoint STAGE: announce a stage (to the cleanup check), and fail there
# when NETNS_TEST_FAIL_AT asks for it.
checkpoint() {
	if [ -n "${NETNS_TEST_INNER-}" ]; then
		say "stage $1"
	fi
	if [ "${NETNS_TEST_FAIL_AT-}" = "$1" ]; then
		fail "injected failure at $1 (NETNS_TEST_FAIL_AT)"
	fi
}

# ---- processes ----------------------------------------------------------------

# start [-n] NAME NS DIR COMMAND...: runs COMMAND inside namespace NS, in
# directory DIR (that host's files), in the background. Its stdout and stderr
# go to $tmp/NAME.out and .err; its stdin is a FIFO that send NAME writes and
# close_input NAME closes, or with -n /dev/null.
start() {
	local input=fifo
	if [ "$1" = -n ]; then
		input=null
		shift
	fi
	local name=$1 ns=$2 dir=$3 fd stdin=/dev/null
	shift 3
	: >"$tmp/$name.out"
	: >"$tmp/$name.err"
	if [ $input = fifo ]; then
		stdin=$tmp/$name.in
		mkfifo "$stdin"
		# Read-write, so that opening never blocks and writing never
		# raises SIGPIPE; the reader sees EOF once this end is closed.
		exec {fd}<>"$stdin"
		infd[$name]=$fd
		open_fds+=("$fd")
	fi
	(
		# The child must not hold anyone's write end, its own included,
		# or its stdin would never end.
		for fd in "${open_fds[@]}"; do
			exec {fd}>&-
		done
		cd "$dir"
		# The host's own home: history, contacts and config stay in $tmp.
		# The certificates are in certs/ here, whatever peerchat's default.
		export HOME=$PWD XDG_CONFIG_HOME=$PWD/.config XDG_DATA_HOME=$PWD/.local/share
		export PEERCHAT_CERTS_DIR=certs
		# ip netns exec execs the command, so $! is the command's PID.
		exec ip netns exec "$ns" "$@"
	) <"$stdin" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid[$name]=$!
	if [ -n "$verbose" ]; then
		printf '   .. started %s (pid %s) in %s: %s\n' "$name" "$!" "$ns" "${*/#"$PEERCHAT"/peerchat}"
	fi
}

# send NAME LINE...: types lines into NAME's stdin.
send() {
	local name=$1
	shift
	printf '%s\n' "$@" >&"${infd[$name]}"
}

# close_input NAME: ends NAME's stdin (Ctrl-D).
close_input() {
	local fd=${infd[$1]-} f keep=()
	[ -n "$fd" ] || return 0
	exec {fd}>&-
	unset "infd[$1]"
	for f in "${open_fds[@]}"; do
		if [ "$f" != "$fd" ]; then keep+=("$f"); fi
	done
	open_fds=("${keep[@]}")
}

# wait_exit NAME [SECONDS]: waits, bounded, for NAME to end; its exit status
# is then in $code.
wait_exit() {
	local name=$1 limit=${2:-$wait_limit} t0
	local p=${pid[$name]}
	t0=$(now_us)
	while kill -0 "$p" 2>/dev/null; do
		if (($(now_us) - t0 > limit * 1000000)); then
			fail "$name did not exit within ${limit}s"
		fi
		sleep 0.05
	done
	code=0
	wait "$p" || code=$?
	unset "pid[$name]"
	close_input "$name"
	if [ -n "$verbose" ] && [ -e "$tmp/$name.err" ]; then
		printf '   .. %s exited %s; its stderr:\n' "$name" "$code"
		sed 's/^/      | /' "$tmp/$name.err"
	fi
}

# expect_exit NAME CODE [SECONDS]
expect_exit() {
	wait_exit "$1" "${3:-$wait_limit}"
	if [ "$code" != "$2" ]; then
		fail "$1 exited $code, want $2"
	fi
}

# wait_for NAME out|err REGEX [SECONDS]: waits, bounded, until a line of
# NAME's stdout or stderr matches REGEX (grep -E); fails as soon as NAME has
# ended without printing it.
wait_for() {
	local name=$1 file=$tmp/$1.$2 re=$3 limit=${4:-$wait_limit} t0
	local p=${pid[$name]-}
	t0=$(now_us)
	until grep -Eq -- "$re" "$file"; do
		if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then
			# It may have printed the line just before it ended.
			grep -Eq -- "$re" "$file" && return 0
			fail "$name ended without printing /$re/ on std$2"
		fi
		if (($(now_us) - t0 > limit * 1000000)); then
			fail "no /$re/ from $name on std$2 within ${limit}s"
		fi
		sleep 0.05
	done
}

# last_line NAME: the last line NAME printed on stderr (its error).
last_line() {
	tail -n 1 "$tmp/$1.err"
}

# expect_error NAME REGEX: NAME's last stderr line matches REGEX, and stdout,
# which is for the transcript only, is empty. Shows the line.
expect_error() {
	local line
	line=$(last_line "$1")
	if ! grep -Eq -- "$2" <<<"$line"; then
		fail "$1's last line is\n  $line\nwant /$2/"
	fi
	if [ -s "$tmp/$1.out" ]; then
		fail "$1 printed on stdout, which is for the transcript only"
	fi
	note "$1: $line"
}

# listener NAME ADDR ARGS...: alice listens in her namespace; waits until she
# says so.
listener() {
	local name=$1 addr=$2
	shift 2
	start "$name" "$ns_a" "$tmp/alice" "$PEERCHAT" listen --addr "$addr" --name alice "$@"
	wait_for "$name" err "^peerchat: listening on .* as alice "
}

# refused LISTENER REGEX: the listener reported refusing a client from bob's
# host with a line matching REGEX. Shows the line.
refused() {
	local re="^peerchat: refused ($b4|\[$b6\]):[0-9]+: $2"
	wait_for "$1" err "$re"
	note "$1: $(grep -E -- "$re" "$tmp/$1.err" | tail -n 1)"
}

# expect_transcript NAME LINE...: NAME's stdout is exactly these "from: text"
# lines, each in the [HH:MM:SS] NAME: TEXT form.
expect_transcript() {
	local name=$1 got want
	shift
	if grep -Evq '^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] [^ :]+: ' "$tmp/$name.out"; then
		fail "$name's stdout has a line that is not [HH:MM:SS] NAME: TEXT:\n$(cat "$tmp/$name.out")"
	fi
	got=$(sed -E 's/^\[[0-9:]{8}\] //' "$tmp/$name.out")
	want=$(printf '%s\n' "$@")
	if [ "$got" != "$want" ]; then
		fail "$name's transcript is\n$got\nwant\n$want"
	fi
}

# fingerprint NAME: the first 8 bytes of NAME's certificate fingerprint, as
# peerchat prints them on connect.
fingerprint() {
	local fp
	fp=$(openssl x509 -in "$tmp/$1/certs/$1.crt" -noout -fingerprint -sha256)
	fp=${fp#*=}
	printf '%s' "${fp:0:23}"
}

# converse LISTENER DIALER TAG: the two are connecting; once both say so,
# each types, each sees the other's lines, bob ends his input: he must exit 0
# with everything acknowledged, alice must see him leave and exit 0, and each
# transcript must hold exactly the other's lines.
converse() {
	local l=$1 d=$2 tag=$3
	local from_alice="hello bob, alice here ($tag)"
	local bob1="hi alice, bob here ($tag)"
	local bob2="zweite Zeile, 第二行 ✓ ($tag)"
	wait_for "$d" err "^peerchat: connected to alice \(fingerprint $(fingerprint alice)\) at "
	wait_for "$l" err "^peerchat: connected to bob \(fingerprint $(fingerprint bob)\) at ($b4|\[$b6\]):[0-9]+, safety code [0-9]{5}( [0-9]{5}){3}$"
	# One safety code for the pair, on both sides.
	local code
	code=$(grep -Eo 'connected to bob .*, safety code [0-9 ]+$' "$tmp/$l.err" | tail -n 1 | sed 's/.*safety code //')
	wait_for "$d" err "^peerchat: connected to alice .*, safety code $code$"
	checkpoint chatting
	send "$l" "$from_alice"
	send "$d" "$bob1" "$bob2"
	wait_for "$d" out "alice: hello bob"
	wait_for "$l" out "bob: zweite Zeile"
	close_input "$d"
	expect_exit "$d" 0
	wait_for "$l" err '^peerchat: bob left the chat$'
	expect_exit "$l" 0
	expect_transcript "$l" "bob: $bob1" "bob: $bob2"
	expect_transcript "$d" "alice: $from_alice"
}

# ---- the two hosts ------------------------------------------------------------

# Name what earlier runs left behind (only SIGKILL can), without touching it:
# it is not ours.
for ns in $(ip netns list 2>/dev/null | sed -nE 's/^(peerchat-[0-9]+-(alice|bob))( .*)?$/\1/p'); do
	p=${ns#peerchat-}
	p=${p%%-*}
	if ! kill -0 "$p" 2>/dev/null; then
		say "note: namespace $ns was left by a killed run; remove it with: ip netns del $ns"
	fi
done

total_start=$(now_us)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/peerchat-netns-$$.XXXXXX")
# Any peerchat run outside start (dial --help) keeps its state here too,
# and uses the certs/ of the directory it runs in, as in a checkout.
export PEERCHAT_CERTS_DIR=certs XDG_CONFIG_HOME=$tmp/home/.config XDG_DATA_HOME=$tmp/home/.local/share

begin "two hosts: namespaces, veth pair, addresses, certificates"
for ns in "$ns_a" "$ns_b"; do
	if ! err=$(ip netns add "$ns" 2>&1); then
		missing "cannot create network namespaces here: $err"
	fi
	made_ns+=("$ns")
	ip -n "$ns" link set lo up
done
checkpoint setup
# Both ends are born inside their namespaces: nothing appears on the host.
ip -n "$ns_a" link add "$if_a" type veth peer name "$if_b" netns "$ns_b"
for a in $a4 $a4_other $a4_drop $a4_reject; do
	ip -n "$ns_a" addr add "$a/24" dev "$if_a"
done
ip -n "$ns_a" addr add "$a6/64" dev "$if_a" nodad
ip -n "$ns_b" addr add "$b4/24" dev "$if_b"
ip -n "$ns_b" addr add "$b6/64" dev "$if_b" nodad
ip -n "$ns_a" link set "$if_a" up
ip -n "$ns_b" link set "$if_b" up
for ns in "$ns_a" "$ns_b"; do
	if [ -n "$(ip -n "$ns" route show default)$(ip -n "$ns" -6 route show default)" ]; then
		fail "$ns has a default route; traffic could leave the test"
	fi
done

# The CA lives on alice's machine. Her certificate names her addresses;
# bob's and carol's need none, they only dial. Each host gets only its files.
"$GEN_CERTS" -d "$tmp/ca" -H "$a4 $a6" alice 2>>"$tmp/gen-certs.err"
"$GEN_CERTS" -d "$tmp/ca" bob carol 2>>"$tmp/gen-certs.err"
mkdir -p "$tmp/alice/certs" "$tmp/bob/certs" "$tmp/carol/certs"
cp -p "$tmp/ca/ca.crt" "$tmp/ca/ca.key" "$tmp/ca/alice.crt" "$tmp/ca/alice.key" "$tmp/alice/certs/"
cp -p "$tmp/ca/ca.crt" "$tmp/ca/bob.crt" "$tmp/ca/bob.key" "$tmp/bob/certs/"
cp -p "$tmp/ca/ca.crt" "$tmp/ca/carol.crt" "$tmp/ca/carol.key" "$tmp/carol/certs/"
# The host-name attack: the CA gives carol a certificate that also names
# alice's host and addresses (as gen-certs once added the CA machine's host
# name to every certificate). Only alice's peer name may pass for alice.
# (carol's ordinary files are in $tmp/carol already; -f keeps the CA.)
"$GEN_CERTS" -d "$tmp/ca" -f -H "alice $a4 $a6" carol 2>>"$tmp/gen-certs.err"
mkdir -p "$tmp/carol-as-alice/certs"
cp -p "$tmp/ca/ca.crt" "$tmp/ca/carol.crt" "$tmp/ca/carol.key" "$tmp/carol-as-alice/certs/"
# The classic mistake: bob ran `make certs` on his own machine, so his
# certificate comes from a CA of his own.
"$GEN_CERTS" -d "$tmp/bob-own-ca/certs" bob 2>>"$tmp/gen-certs.err"
# And then copied alice's ca.crt over his own.
mkdir -p "$tmp/bob-mixed/certs"
cp -p "$tmp/ca/ca.crt" "$tmp/bob-own-ca/certs/bob.crt" "$tmp/bob-own-ca/certs/bob.key" "$tmp/bob-mixed/certs/"

if [ -n "$have_nft" ]; then
	ip netns exec "$ns_a" nft -f - <<EOF
table inet peerchat_test {
	chain input {
		type filter hook input priority filter; policy accept;
		ip daddr $a4_drop tcp dport $port drop
		ip daddr $a4_reject tcp dport $port reject with icmpx type admin-prohibited
	}
}
EOF
fi
note "alice: $ns_a, $if_a $a4/24 $a6/64; bob: $ns_b, $if_b $b4/24 $b6/64"
ok

two_host_start=$(now_us)

# ---- IPv4, by address -----------------------------------------------------------

begin "ipv4: alice listens on :$port"
listener l1 ":$port"
checkpoint listening
ok

# The slow failures run meanwhile: a dropped SYN waits out peerchat's
# 10-second dial timeout, an address nobody has waits for ARP to give up.
if [ -n "$have_nft" ]; then
	start -n drop "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$a4_drop"
	start -n reject "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$a4_reject"
fi
start -n nobody "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$nobody4"

begin "ipv4: bob with a certificate from his own CA is refused"
start -n bob-own-ca "$ns_b" "$tmp/bob-own-ca" "$PEERCHAT" dial --name bob "$a4"
expect_exit bob-own-ca 3
expect_error bob-own-ca "^peerchat: the listener at $a4:$port \(alice\) has a certificate not signed by our CA certs/ca.crt; "
refused l1 "the client refused our certificate \(bad certificate\): it trusts another CA, or dialed a name ours is not valid for$"
ok

begin "ipv4: bob with alice's ca.crt but his own CA's bob.crt stops at home"
start -n bob-mixed "$ns_b" "$tmp/bob-mixed" "$PEERCHAT" dial --name bob "$a4"
expect_exit bob-mixed 3
expect_error bob-mixed "^peerchat: certs/bob.crt is not signed by the CA in certs/ca.crt; "
ok

begin "ipv4: a client without a certificate (openssl s_client) is refused"
start -n s_client "$ns_b" "$tmp/bob" openssl s_client -connect "$a4:$port" -CAfile certs/ca.crt -quiet
wait_exit s_client
refused l1 "client presented no certificate$"
ok

begin "ipv4: bob dials alice's address, messages both ways"
start d1 "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$a4"
converse l1 d1 ipv4
wait_for d1 err "^peerchat: connected to alice .* at $a4:$port, safety code [0-9 ]+$"
ok

# ---- by --peer name ---------------------------------------------------------------

begin "--peer: alice listens for bob only"
listener l2 ":$port" --peer bob
ok

begin "--peer: dialing an address not in alice's certificate is refused"
start -n not-in-cert "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$a4_other"
expect_exit not-in-cert 3
expect_error not-in-cert "^peerchat: the listener at $a4_other:$port is alice \(valid for alice, .*$a4, $a6\), not valid for \"$a4_other\"; pass --peer alice if alice is who you meant to reach$"
refused l2 "the client refused our certificate \(bad certificate\)"
ok

begin "--peer: bob demanding carol instead of alice is refused"
start -n wrong-peer "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob --peer carol "$a4"
expect_exit wrong-peer 3
expect_error wrong-peer "^peerchat: the listener at $a4:$port is alice, not carol: the peer name in its certificate is alice; if alice is who you meant to reach, pass --peer alice$"
refused l2 "bob refused us: bob dialed carol, and the peer name in your certificate is alice$"
ok

begin "--peer: carol, same CA, is refused by alice listening for bob"
start -n carol "$ns_b" "$tmp/carol" "$PEERCHAT" dial --name carol "$a4"
expect_exit carol 3
expect_error carol "^peerchat: alice \(at $a4:$port\) refused us: alice accepts only bob, and the peer name in your certificate is carol; ask alice to listen with --peer carol$"
refused l2 "carol is not bob: the peer name in its certificate is carol; to chat with carol, listen with --peer carol$"
ok

begin "--peer: bob dials an address not in the certificate with --peer alice"
start d2 "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob --peer alice "$a4_other"
converse l2 d2 peer
ok

# ---- contacts ---------------------------------------------------------------------

# full_fingerprint NAME: NAME's whole certificate fingerprint, as openssl
# prints it (sha256 Fingerprint=AB:CD:...), which contacts take as it is.
full_fingerprint() {
	openssl x509 -in "$tmp/$1/certs/$1.crt" -noout -fingerprint -sha256
}

begin "contacts: alice listens; bob adds her with her fingerprint, at an address not in her certificate"
listener lc ":$port"
start -n add-alice "$ns_b" "$tmp/bob" "$PEERCHAT" contacts add alice "$a4_other" --fingerprint "$(full_fingerprint alice)"
expect_exit add-alice 0
ok

begin "contacts: a contact pinned to another certificate (carol's) is refused"
start -n add-wrong "$ns_b" "$tmp/bob" "$PEERCHAT" contacts add --contacts "$tmp/wrong-pin" alice "$a4" --fingerprint "$(full_fingerprint carol)"
expect_exit add-wrong 0
start -n wrong-pin "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob --contacts "$tmp/wrong-pin" alice
expect_exit wrong-pin 3
alice_fp=$(full_fingerprint alice)
carol_fp=$(full_fingerprint carol)
expect_error wrong-pin "${alice_fp#*=}.*${carol_fp#*=}|${carol_fp#*=}.*${alice_fp#*=}"
refused lc ""
ok

begin "contacts: bob dials alice by name, messages both ways"
start dc "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob alice
converse lc dc contact
wait_for dc err "^peerchat: connected to alice .* at $a4_other:$port, safety code [0-9 ]+$"
ok

# ---- IPv6 -------------------------------------------------------------------------

begin "ipv6: alice listens on [$a6]:$port for bob"
listener l3 "[$a6]:$port" --peer bob
ok

begin "ipv6: bob with a certificate from his own CA is refused"
start -n bob-own-ca6 "$ns_b" "$tmp/bob-own-ca" "$PEERCHAT" dial --name bob "[$a6]"
expect_exit bob-own-ca6 3
expect_error bob-own-ca6 "^peerchat: the listener at \[$a6\]:$port \(alice\) has a certificate not signed by our CA certs/ca.crt; "
refused l3 "the client refused our certificate \(bad certificate\): it trusts another CA, or dialed a name ours is not valid for$"
ok

begin "ipv6: a client without a certificate (openssl s_client) is refused"
start -n s_client6 "$ns_b" "$tmp/bob" openssl s_client -connect "[$a6]:$port" -CAfile certs/ca.crt -quiet
wait_exit s_client6
refused l3 "client presented no certificate$"
ok

begin "ipv6: bob dials [$a6], messages both ways"
start d3 "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "[$a6]"
converse l3 d3 ipv6
wait_for d3 err "^peerchat: connected to alice .* at \[$a6\]:$port, safety code [0-9 ]+$"
ok

# ---- network mistakes ---------------------------------------------------------------

begin "network: nobody listening (alice's peerchat not running)"
start -n not-running "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$a4"
expect_exit not-running 4
expect_error not-running "^peerchat: cannot reach $a4:$port: connection refused; is \`peerchat listen\` running there, on that port\?$"
ok

begin "network: wrong port"
start -n wrong-port "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob "$a4:$closed_port"
expect_exit wrong-port 4
expect_error wrong-port "^peerchat: cannot reach $a4:$closed_port: connection refused; "
ok

begin "network: a firewall that rejects the port"
if [ -n "$have_nft" ]; then
	expect_exit reject 4
	expect_error reject "^peerchat: cannot reach $a4_reject:$port: no route to host; check the address.*"
	ok
else
	skip "nft missing (Debian: apt-get install nftables)"
fi

begin "network: an address nobody has"
expect_exit nobody 4 20
expect_error nobody "^peerchat: cannot reach $nobody4:$port: no route to host; check the address.*"
ok

begin "network: a firewall that drops the port (waits out the dial timeout)"
if [ -n "$have_nft" ]; then
	expect_exit drop 4 30
	expect_error drop "^peerchat: cannot reach $a4_drop:$port: no answer \(timed out\); check the address and any firewall in between$"
	ok
else
	skip "nft missing (Debian: apt-get install nftables)"
fi

# ---- link down mid-conversation (needs reconnect, issue 4) ----------------------------

# established_to_alice: bob's host has an established TCP connection to alice.
established_to_alice() {
	[ -n "$(ip netns exec "$ns_b" ss -Htn state established dst "$a4" dport = ":$port")" ]
}

begin "link down mid-conversation: resumes, nothing lost, nothing twice"
if ! "$PEERCHAT" dial --help 2>&1 | grep -q -- '--no-reconnect' && [ "${NETNS_TEST_RECONNECT-}" != force ]; then
	skip "needs reconnect (issue 4): \`peerchat dial --help\` lists no --no-reconnect"
else
	# Short heartbeats, so that the drop is noticed in well under a second.
	listener l4 ":$port" --peer bob --heartbeat 200ms
	start d4 "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob --peer alice --heartbeat 200ms "$a4"
	wait_for d4 err "^peerchat: connected to alice "
	wait_for l4 err "^peerchat: connected to bob "
	send l4 "alice 1: before the cut"
	send d4 "bob 1: before the cut"
	wait_for d4 out "alice: alice 1:"
	wait_for l4 out "bob: bob 1:"
	# One line in flight as the link goes: delivered once, whether or not
	# it made it across before the cut.
	send d4 "bob 2: as the link went down"
	ip -n "$ns_a" link set "$if_a" down
	t0=$(now_us)
	while established_to_alice; do
		if (($(now_us) - t0 > wait_limit * 1000000)); then
			fail "bob's connection to alice outlived the link by ${wait_limit}s; the heartbeat should have ended it"
		fi
		if ! kill -0 "${pid[d4]}" 2>/dev/null; then
			fail "bob's peerchat ended when the link went down; it should reconnect"
		fi
		sleep 0.05
	done
	for p in l4 d4; do
		if ! kill -0 "${pid[$p]}" 2>/dev/null; then
			fail "$p's peerchat ended when the link went down ($(last_line "$p")); with reconnect both sides wait for the link to return"
		fi
	done
	# Typed while there is no connection: queued, not lost.
	send d4 "bob 3: typed while the link was down" "bob 4: still down"
	send l4 "alice 2: typed while the link was down"
	ip -n "$ns_a" link set "$if_a" up
	# Reconnect backs off; give it time, but a bounded one.
	wait_for l4 out "bob: bob 4:" 60
	wait_for d4 out "alice: alice 2:" 60
	if ! established_to_alice; then
		fail "everything arrived, yet bob has no connection to alice"
	fi
	close_input d4
	expect_exit d4 0
	wait_for l4 err '^peerchat: bob left the chat$'
	expect_exit l4 0
	expect_transcript l4 "bob: bob 1: before the cut" "bob: bob 2: as the link went down" \
		"bob: bob 3: typed while the link was down" "bob: bob 4: still down"
	expect_transcript d4 "alice: alice 1: before the cut" "alice: alice 2: typed while the link was down"
	ok
fi

# ---- the host-name attack (issue 13) --------------------------------------------------

# stop NAME: ends a listener that is still waiting, by its id.
stop() {
	kill -TERM "${pid[$1]}" 2>/dev/null || true
	wait_exit "$1"
}

# not_delivered NAME TEXT: TEXT never reached NAME's transcript.
not_delivered() {
	if grep -Fq -- "$2" "$tmp/$1.out"; then
		fail "$1 received \"$2\", meant for someone else:\n$(cat "$tmp/$1.out")"
	fi
}

begin "host names: carol, certified for alice's host, at alice's address; dial --peer alice"
start hn-carol "$ns_a" "$tmp/carol-as-alice" "$PEERCHAT" listen --addr "$a4:$port" --name carol
wait_for hn-carol err "^peerchat: listening on .* as carol "
start hn-bob "$ns_b" "$tmp/bob" "$PEERCHAT" dial --name bob --peer alice "$a4"
send hn-bob "a secret for alice"
close_input hn-bob
expect_exit hn-bob 3
expect_error hn-bob "^peerchat: .*$a4:$port.*\bcarol\b.*\balice\b"
not_delivered hn-carol "a secret for alice"
stop hn-carol
ok

begin "host names: carol, certified for alice's host, dials bob's listen --peer alice"
start hn-listen "$ns_b" "$tmp/bob" "$PEERCHAT" listen --addr "$b4:$port" --name bob --peer alice
wait_for hn-listen err "^peerchat: listening on .* as bob "
start hn-dial "$ns_a" "$tmp/carol-as-alice" "$PEERCHAT" dial --name carol --peer bob "$b4"
send hn-dial "a secret for bob, from carol posing as alice"
close_input hn-dial
expect_exit hn-dial 3
expect_error hn-dial "^peerchat: bob \(at $b4:$port\) refused us: .*(\balice\b.*\bcarol\b|\bcarol\b.*\balice\b)"
re="^peerchat: refused $a4:[0-9]+: .*\bcarol\b.*\balice\b"
wait_for hn-listen err "$re"
note "hn-listen: $(grep -E -- "$re" "$tmp/hn-listen.err" | tail -n 1)"
not_delivered hn-listen "a secret for bob"
stop hn-listen
ok

say "two-host test took $(since "$two_host_start") ($(since "$total_start") with setup)"

# ---- the cleanup itself -----------------------------------------------------------------

# leftovers PID: what a run with that PID left behind, if anything.
leftovers() {
	local p=$1 f line pgrp
	ip netns list | sed -nE "s/^(peerchat-$p-(alice|bob))( .*)?\$/namespace \\1/p"
	for f in "${TMPDIR:-/tmp}"/peerchat-netns-"$p".*; do
		if [ -e "$f" ]; then printf 'directory %s\n' "$f"; fi
	done
	# Its processes: the run was started as a process group of its own.
	for f in /proc/[0-9]*/stat; do
		line=$(cat "$f" 2>/dev/null) || continue
		# After "(comm) ": state, ppid, pgrp.
		read -r _ _ pgrp _ <<<"${line##*) }"
		if [ "$pgrp" = "$p" ]; then printf 'process %s\n' "${f//[!0-9]/}"; fi
	done
}

# inner NAME [ENV...]: runs this script again, with ENV, as a process group of
# its own, in the background; its output goes to $tmp/NAME.log.
inner() {
	local name=$1
	shift
	# A background job starts with SIGINT ignored, and a shell cannot trap a
	# signal ignored on entry: restore it, so that the run meets SIGINT as
	# it would meet Ctrl-C.
	(
		trap - INT
		exec env NETNS_TEST_INNER=1 "$@" setsid "$self"
	) </dev/null >"$tmp/$name.log" 2>&1 &
	pid[$name]=$!
}

expect_clean() {
	local left
	left=$(leftovers "$1")
	if [ -n "$left" ]; then
		fail "$2 left behind:\n$left\n--- its output:\n$(tail -n 20 "$tmp/$3.log")"
	fi
}

if [ -n "$cleanup_check" ]; then
	begin "cleanup: nothing left after a failure at each stage"
	for stage in setup listening chatting; do
		inner "fail-$stage" NETNS_TEST_FAIL_AT=$stage
		p=${pid[fail-$stage]}
		wait_exit "fail-$stage" 30
		if [ "$code" != 1 ] || ! grep -q "injected failure at $stage" "$tmp/fail-$stage.log"; then
			fail "the run failing at $stage exited $code:\n$(tail -n 20 "$tmp/fail-$stage.log")"
		fi
		expect_clean "$p" "the run failing at $stage" "fail-$stage"
	done
	ok

	for sig in INT TERM; do
		begin "cleanup: nothing left after SIG$sig mid-chat"
		inner "sig$sig"
		p=${pid[sig$sig]}
		t0=$(now_us)
		until grep -q "stage chatting" "$tmp/sig$sig.log"; do
			if ! kill -0 "$p" 2>/dev/null || (($(now_us) - t0 > 30000000)); then
				fail "the run to interrupt never reached the chat:\n$(tail -n 20 "$tmp/sig$sig.log")"
			fi
			sleep 0.05
		done
		# As Ctrl-C does, to the whole process group; TERM to the script.
		if [ $sig = INT ]; then
			kill -INT -- "-$p"
		else
			kill -TERM "$p"
		fi
		wait_exit "sig$sig" 30
		want=130
		if [ $sig = TERM ]; then want=143; fi
		if [ "$code" != $want ]; then
			fail "the run interrupted by SIG$sig exited $code, want $want:\n$(tail -n 20 "$tmp/sig$sig.log")"
		fi
		expect_clean "$p" "the run interrupted by SIG$sig" "sig$sig"
		ok
	done
fi

say "took $(since "$total_start") in all"
summary
if [ "$failed" -gt 0 ]; then
	exit 1
fi
