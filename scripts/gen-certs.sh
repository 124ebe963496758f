#!/bin/sh
# gen-certs.sh: a small local CA and the peer certificates it signs, for
# peerchat's mutual TLS. POSIX sh and the openssl command line only, so that
# it runs the same under dash, bash, busybox and on macOS (OpenSSL or
# LibreSSL).
#
# Layout: the first word may name a subcommand. Only "issue" exists today and
# it is also the default, so "gen-certs.sh alice bob" issues; "request",
# "sign" and "revoke" are reserved for the CSR flow and revocation.
#
# Output rules: every message goes to stderr with a "gen-certs:" prefix,
# lower case, no trailing period; only -h writes to stdout. Private keys are
# born 0600 (umask 077 in the subshell that creates them) inside a private
# temp directory next to their final place, and are moved in only after the
# certificate has verified, so an interrupted run leaves nothing half-made.

set -eu
set -f # no globbing: word lists (-H, openssl version) are split, never expanded
LC_ALL=C
export LC_ALL

prog=gen-certs
OPENSSL=${OPENSSL:-openssl}

ca_days=3650
leaf_days=365
default_names='alice bob'

# Set once the lock/temp directory is ours; cleanup removes only that.
tmp=

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "$*"; exit 1; }
usage_error() {
	say "$*"
	say "hint: run $0 -h for usage"
	exit 2
}

usage() {
	cat <<EOF
usage: $0 [issue] [-f] [-d DIR] [-H "HOST ..."] [NAME ...]

Creates a local CA in DIR (only if there is none yet) and, for each NAME, a
key and a certificate signed by that CA. NAMEs default to "$default_names".

  -d DIR    where to write (default: certs)
  -H HOSTS  extra host names or IP addresses for the peer certificates,
            separated by spaces or commas (e.g. -H "192.0.2.7 chat.example")
  -f        replace existing peer keys and certificates (never the CA)
  -h        show this help

An existing CA is always reused. Set OPENSSL to use another openssl binary.
EOF
}

cleanup() {
	if [ -n "$tmp" ]; then
		rm -rf "$tmp"
	fi
}

# ---- checks ---------------------------------------------------------------

# check_openssl fails with one line unless $OPENSSL exists and is new enough
# for what we rely on (OpenSSL >= 1.1.1, LibreSSL >= 3.1).
check_openssl() {
	install_hint='install it (Debian: apt-get install openssl, macOS: brew install openssl)'
	if ! command -v "$OPENSSL" >/dev/null 2>&1; then
		if [ "$OPENSSL" = openssl ]; then
			die "openssl not found; $install_hint"
		fi
		die "OPENSSL=$OPENSSL not found; point it at an openssl binary or unset it"
	fi
	version_line=$("$OPENSSL" version 2>/dev/null) ||
		die "'$OPENSSL version' failed; $install_hint"
	# shellcheck disable=SC2086 # split the version line into words
	set -- $version_line
	impl=${1-} ver=${2-}
	major=${ver%%.*}
	rest=${ver#*.}
	minor=${rest%%.*}
	patch=${rest#*.}
	patch=${patch%%[!0-9]*}
	case $major$minor in
	'' | *[!0-9]*)
		say "warning: cannot tell the version of '$version_line'; carrying on"
		return 0
		;;
	esac
	: "${patch:=0}"
	too_old="openssl is too old ($impl $ver; need OpenSSL >= 1.1.1 or LibreSSL >= 3.1); install a newer one (Debian: apt-get install openssl, macOS: brew install openssl) and put it first on PATH or set OPENSSL=/path/to/openssl"
	case $impl in
	OpenSSL)
		if [ "$major" -lt 1 ] ||
			{ [ "$major" -eq 1 ] && [ "$minor" -lt 1 ]; } ||
			{ [ "$major" -eq 1 ] && [ "$minor" -eq 1 ] && [ "$patch" -lt 1 ]; }; then
			die "$too_old"
		fi
		;;
	LibreSSL)
		if [ "$major" -lt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -lt 1 ]; }; then
			die "$too_old"
		fi
		;;
	*)
		say "warning: unknown openssl flavour '$version_line'; carrying on"
		;;
	esac
}

# check_name accepts a peer name: letters, digits, dot, dash, underscore,
# 1-64 characters, starting with a letter or digit (so it can be neither an
# option nor a path), and not "ca", whose files are the CA's.
check_name() {
	case $1 in
	'' | [!A-Za-z0-9]* | *[!A-Za-z0-9._-]*)
		die "invalid name '$1': use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit"
		;;
	[Cc][Aa])
		die "invalid name '$1': ca.crt and ca.key are the CA's files; pick another name"
		;;
	esac
	if [ "${#1}" -gt 64 ]; then
		die "invalid name '$1': longer than 64 characters"
	fi
}

is_dns_name() {
	case $1 in
	'' | .* | *. | *..* | -* | *-.* | *.-* | *- | *[!A-Za-z0-9.-]*) return 1 ;;
	esac
	[ "${#1}" -le 253 ]
}

is_ipv4() {
	case $1 in
	'' | .* | *. | *..* | *[!0-9.]*) return 1 ;;
	esac
	saved_ifs=$IFS
	IFS=.
	# shellcheck disable=SC2086 # split on dots
	set -- $1
	IFS=$saved_ifs
	[ $# -eq 4 ] || return 1
	for octet; do
		[ "${#octet}" -le 3 ] && [ "$octet" -le 255 ] || return 1
	done
}

# is_ipv6 is a shape check (hex groups, at most one "::"); openssl has the
# last word on the details.
is_ipv6() {
	case $1 in
	*:*) ;;
	*) return 1 ;;
	esac
	case $1 in
	*[!0-9A-Fa-f:.]* | *:::* | *::*::*) return 1 ;;
	esac
	saved_ifs=$IFS
	IFS=:
	# shellcheck disable=SC2086 # split on colons
	set -- $1
	IFS=$saved_ifs
	[ $# -le 8 ] || return 1
	for group; do
		case $group in
		*.*) is_ipv4 "$group" || return 1 ;;
		*) [ "${#group}" -le 4 ] || return 1 ;;
		esac
	done
}

# add_san appends one subjectAltName entry unless it is already there.
add_san() {
	case ", $sans, " in
	*", $1, "*) ;;
	*) sans=${sans:+$sans, }$1 ;;
	esac
}

# host_sans turns -H words (plus this machine's name) into SAN entries,
# refusing anything that is neither an address nor a host name.
host_sans() {
	host_list=
	saved_ifs=$IFS
	IFS=' 	,'
	# shellcheck disable=SC2086 # split the -H list
	set -- $hosts
	IFS=$saved_ifs
	for h; do
		if is_ipv4 "$h" || is_ipv6 "$h"; then
			host_list="$host_list IP:$h"
		elif case $h in *[!0-9.]*) false ;; esac then
			die "invalid host '$h' in -H: not an IPv4 address"
		elif is_dns_name "$h"; then
			host_list="$host_list DNS:$h"
		else
			die "invalid host '$h' in -H: give host names or IP addresses, without ports or brackets"
		fi
	done
	this_host=$(uname -n 2>/dev/null | tr '[:upper:]' '[:lower:]') || this_host=
	if ! is_dns_name "$this_host"; then
		this_host=
	fi
}

# ---- openssl plumbing -------------------------------------------------------

# ossl runs openssl with its chatter captured, and shows it only on failure.
ossl() {
	if ! "$OPENSSL" "$@" 2>"$tmp/err"; then
		say "openssl $1 failed:"
		sed 's/^/  /' "$tmp/err" >&2
		exit 1
	fi
}

# new_key writes a fresh ECDSA P-256 key (PKCS#8 PEM) that is 0600 from birth.
new_key() {
	(
		umask 077
		ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
	)
}

new_serial() {
	serial=$("$OPENSSL" rand -hex 16) || die "openssl rand failed"
}

enddate() {
	end=$("$OPENSSL" x509 -in "$1" -noout -enddate) || die "cannot read $1"
	printf '%s\n' "${end#notAfter=}"
}

write_req_config() {
	cat >"$tmp/req.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt             = no
string_mask        = utf8only

[ dn ]
CN = peerchat

[ ca_ext ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
}

# lock takes DIR/.gen-certs.tmp as both the private temp directory and the
# lock, so that parallel runs (make -j) share one CA instead of racing to
# create two.
lock() {
	lockdir=$dir/.gen-certs.tmp
	waited=0
	until (umask 077 && mkdir "$lockdir") 2>/dev/null; do
		if [ ! -d "$lockdir" ]; then
			# Not held by anyone: a real error, so let mkdir say which.
			(umask 077 && mkdir "$lockdir") || die "cannot create $lockdir"
			break
		fi
		if [ "$waited" -eq 0 ]; then
			say "waiting for another gen-certs to finish in $dir"
		fi
		if [ "$waited" -ge 30 ]; then
			die "$lockdir exists; if no other gen-certs is running, remove it and try again"
		fi
		sleep 1
		waited=$((waited + 1))
	done
	tmp=$lockdir
}

# ---- issue ------------------------------------------------------------------

# ensure_ca reuses DIR/ca.{crt,key} if both exist, refuses a half CA, and
# otherwise makes a new one.
ensure_ca() {
	if [ -e "$dir/ca.crt" ] && [ -e "$dir/ca.key" ]; then
		crt_pub=$("$OPENSSL" x509 -in "$dir/ca.crt" -noout -pubkey 2>/dev/null) ||
			die "$dir/ca.crt is not a readable certificate; move it away to start a new CA"
		key_pub=$("$OPENSSL" pkey -in "$dir/ca.key" -pubout 2>/dev/null) ||
			die "$dir/ca.key is not a readable private key; move it away to start a new CA"
		if [ "$crt_pub" != "$key_pub" ]; then
			die "$dir/ca.key does not belong to $dir/ca.crt; restore the matching pair"
		fi
		say "using the CA in $dir/ca.crt, valid until $(enddate "$dir/ca.crt")"
		return 0
	fi
	if [ -e "$dir/ca.crt" ]; then
		die "$dir/ca.key is missing but $dir/ca.crt exists; refusing to overwrite the CA (restore ca.key, or move ca.crt away to start a new CA)"
	fi
	if [ -e "$dir/ca.key" ]; then
		die "$dir/ca.crt is missing but $dir/ca.key exists; refusing to overwrite the CA (restore ca.crt, or move ca.key away to start a new CA)"
	fi
	issue_ca
}

issue_ca() {
	ca_cn='peerchat local CA'
	if [ -n "$this_host" ]; then
		ca_cn="$ca_cn ($this_host)"
	fi
	new_key "$tmp/ca.key"
	new_serial
	ossl req -new -x509 -config "$tmp/req.cnf" -extensions ca_ext \
		-key "$tmp/ca.key" -subj "/CN=$ca_cn" -sha256 -days "$ca_days" \
		-set_serial "0x$serial" -out "$tmp/ca.crt"
	mv -f "$tmp/ca.key" "$dir/ca.key"
	mv -f "$tmp/ca.crt" "$dir/ca.crt"
	say "created a new local CA, valid until $(enddate "$dir/ca.crt"):"
	say "  $dir/ca.crt: give it to your peer"
	say "  $dir/ca.key: keep it secret; it signs certificates and is never needed to chat"
}

# issue_leaf makes NAME's key and certificate in the temp directory and checks
# them against the CA; install_leaf moves them into place.
issue_leaf() {
	name=$1
	sans=
	add_san "DNS:$name"
	add_san DNS:localhost
	add_san IP:127.0.0.1
	add_san IP:::1
	if [ -n "$this_host" ]; then
		add_san "DNS:$this_host"
	fi
	for san in $host_list; do
		add_san "$san"
	done
	cat >"$tmp/$name.ext" <<EOF
[ leaf_ext ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth, clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
subjectAltName         = $sans
EOF
	new_key "$tmp/$name.key"
	new_serial
	ossl req -new -config "$tmp/req.cnf" -key "$tmp/$name.key" \
		-subj "/CN=$name" -out "$tmp/$name.csr"
	ossl x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-sha256 -days "$leaf_days" -set_serial "0x$serial" \
		-extfile "$tmp/$name.ext" -extensions leaf_ext -out "$tmp/$name.crt"
	verify_leaf "$tmp/$name.crt" "the new certificate for $name" ||
		die "nothing written for $name; this is a bug in gen-certs or in openssl"
}

install_leaf() {
	mv -f "$tmp/$1.key" "$dir/$1.key"
	mv -f "$tmp/$1.crt" "$dir/$1.crt"
	say "wrote $dir/$1.crt and $dir/$1.key, valid until $(enddate "$dir/$1.crt")"
	say "  names: $(printf '%s\n' "$sans" | sed 's/DNS://g; s/IP://g; s/,//g')"
}

# verify_leaf checks certificate $1 (called $2 in messages) against
# DIR/ca.crt for both TLS roles, as each peer is client and server.
verify_leaf() {
	for purpose in sslserver sslclient; do
		if ! "$OPENSSL" verify -x509_strict -purpose "$purpose" \
			-CAfile "$dir/ca.crt" "$1" >"$tmp/verify" 2>&1; then
			say "error: $2 does not verify against $dir/ca.crt ($purpose):"
			sed 's/^/  /' "$tmp/verify" >&2
			return 1
		fi
	done
}

cmd_issue() {
	dir=certs
	hosts=
	force=
	OPTIND=1
	while getopts :d:H:fh opt; do
		case $opt in
		d) dir=$OPTARG ;;
		H) hosts="$hosts $OPTARG" ;;
		f) force=1 ;;
		h)
			usage
			exit 0
			;;
		:) usage_error "option -$OPTARG needs an argument" ;;
		*) usage_error "unknown option -$OPTARG" ;;
		esac
	done
	shift $((OPTIND - 1))
	if [ -z "$dir" ]; then
		usage_error "-d needs a directory"
	fi
	if [ $# -eq 0 ]; then
		# shellcheck disable=SC2086 # the default is a word list
		set -- $default_names
	fi

	check_openssl
	for name; do
		check_name "$name"
	done
	host_sans

	mkdir -p "$dir" || die "cannot create directory $dir"
	lock
	write_req_config
	ensure_ca

	for name; do
		if [ -z "$force" ] && { [ -e "$dir/$name.crt" ] || [ -e "$dir/$name.key" ]; }; then
			if [ -e "$dir/$name.crt" ]; then
				say "kept $dir/$name.crt (exists; -f to replace)"
				if ! verify_leaf "$dir/$name.crt" "$dir/$name.crt"; then
					die "hint: replace it with $0 -d $dir -f $name"
				fi
			else
				say "kept $dir/$name.key (exists; -f to replace)"
			fi
			continue
		fi
		issue_leaf "$name"
		install_leaf "$name"
	done

	case $dir in
	certs | ./certs | certs/ | ./certs/)
		say "next: make listen (in one terminal) and make dial (in another)"
		;;
	*)
		say "next: give each peer $dir/ca.crt and its own NAME.crt and NAME.key"
		;;
	esac
}

# ---- dispatch ---------------------------------------------------------------

main() {
	trap cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM

	case ${1-} in
	issue)
		shift
		cmd_issue "$@"
		;;
	request | sign | revoke)
		usage_error "'$1' is not implemented yet"
		;;
	help | --help)
		usage
		;;
	*)
		cmd_issue "$@"
		;;
	esac
}

main "$@"
