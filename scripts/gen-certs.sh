#!/bin/sh
# gen-certs.sh: a small local CA and the peer certificates it signs, for
# peerchat's mutual TLS. POSIX sh and the openssl command line only, so that
# it runs the same under dash, bash, busybox and on macOS (OpenSSL or
# LibreSSL).
#
# Layout: options (-d, -H, -F, -f) may come before or after an optional
# subcommand word, which picks one of the cmd_* functions below:
#   issue    (the default) CA if missing, then key + request + signature per
#            NAME, all on this machine: "gen-certs.sh alice bob" issues
#   request  a key and a certificate request, on the peer's own machine
#   sign     a certificate for someone else's request, on the CA's machine
#   revoke   a certificate onto the CA's revocation list, and a new crl.pem
#   crl      a freshly signed crl.pem from the current list
# Issue mode and sign share sign_leaf, so a certificate has the same profile
# whichever way it was made. The subcommand words are not valid peer names.
#
# Names: a peer certificate holds the peer name (its CN, and a DNS SAN),
# localhost, 127.0.0.1 and ::1 (for the one-machine quick start), and what
# -H gives; nothing else. In particular not this machine's host name: it is
# often a peer's name too ("alice"), and a certificate valid for it would
# pass for that peer wherever a host name is checked. Whoever wants it says
# so: -H "$(hostname)".
#
# Requests travel, so one can be swapped on the way. request prints the
# SHA-256 fingerprint of the key it holds, which its owner reads to the CA's
# holder by voice; sign -F checks it (and asks for it on a terminal).
#
# Output rules: every message goes to stderr with a "gen-certs:" prefix,
# lower case, no trailing period; only -h writes to stdout. Private keys are
# born 0600 (umask 077 in the subshell that creates them) inside a private
# temp directory next to their final place, and every new file is moved in
# only after it has verified, so an interrupted run leaves nothing half-made.

set -eu
set -f # no globbing: word lists (-H, openssl version) are split, never expanded
LC_ALL=C
export LC_ALL

prog=gen-certs
OPENSSL=${OPENSSL:-openssl}

ca_days=3650
leaf_days=365
crl_days=30
default_names='alice bob'

# Set once the lock/temp directory is ours (an absolute path, so that it
# still works from a subshell that changed directory); cleanup removes only
# that.
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
usage: $0 [-d DIR] [-H "HOST ..."] [-f] [issue] [NAME ...]
       $0 [-d DIR] [-f] request NAME
       $0 [-d DIR] [-H "HOST ..."] [-F FINGERPRINT] [-f] sign FILE.csr
       $0 [-d DIR] revoke NAME
       $0 [-d DIR] crl

issue     (the default) creates a local CA in DIR if there is none and, for
          each NAME, a key and a certificate signed by that CA. NAMEs default
          to "$default_names"
request   on a peer's own machine: creates DIR/NAME.key and the certificate
          request DIR/NAME.csr to send to whoever holds the CA, and prints
          the key's fingerprint to read to them by voice; the key never
          leaves the machine
sign      on the CA's machine: checks FILE.csr and its key's fingerprint
          (-F, or asked on a terminal) and writes DIR/NAME.crt, to send back
          together with DIR/ca.crt
revoke    puts DIR/NAME.crt on the CA's revocation list and writes
          DIR/crl.pem for the peers
crl       signs DIR/crl.pem afresh; it is valid for $crl_days days

  -d DIR    where the files are (default: certs)
  -H HOSTS  extra host names or IP addresses for the peer certificates,
            separated by spaces or commas (e.g. -H "192.0.2.7 chat.example",
            or -H "\$(hostname)" for this machine's name, which is never
            added otherwise); issue and sign only
  -F FP     the SHA-256 fingerprint of the request's key, as its owner read
            it to you (AB:CD:..., with or without colons, any case, or as
            openssl prints it); sign writes nothing unless it matches; sign
            only
  -f        replace existing peer keys and certificates (never the CA);
            issue, request and sign only
  -h        show this help

Options may come before or after the subcommand. An existing CA is always
reused. Set OPENSSL to use another openssl binary.
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
# option nor a path), not "ca", whose files are the CA's, and not a
# subcommand word. $2, if given, says where the name came from.
check_name() {
	where=${2-}
	case $1 in
	'' | [!A-Za-z0-9]* | *[!A-Za-z0-9._-]*)
		die "invalid name '$1'$where: use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit"
		;;
	[Cc][Aa])
		die "invalid name '$1'$where: ca.crt and ca.key are the CA's files; pick another name"
		;;
	issue | request | sign | revoke | crl | help)
		die "invalid name '$1'$where: it is a gen-certs subcommand; pick another name"
		;;
	esac
	if [ "${#1}" -gt 64 ]; then
		die "invalid name '$1'$where: longer than 64 characters"
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

# host_sans turns the -H words into SAN entries in $host_list, refusing
# anything that is neither an address nor a host name.
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
}

# this_host_name sets $this_host to this machine's name if it is a valid DNS
# name. It only labels a new CA ("peerchat local CA (alice)"), so that two
# CAs can be told apart; no peer certificate gets it (see the top).
this_host_name() {
	this_host=$(uname -n 2>/dev/null | tr '[:upper:]' '[:lower:]') || this_host=
	if ! is_dns_name "$this_host"; then
		this_host=
	fi
}

# no_option refuses option $1 (given if $2 is not blank) for subcommand $3,
# with $4 as the reason.
no_option() {
	if [ -n "$(printf '%s' "$2" | tr -d ' \t,')" ]; then
		usage_error "$1 does not apply to $3: $4"
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

# cert_serial prints the serial number of certificate $1 in hex.
cert_serial() {
	s=$("$OPENSSL" x509 -in "$1" -noout -serial) || die "cannot read $1"
	printf '%s\n' "${s#serial=}"
}

# pubkey prints the public key of certificate $1, or of key $1 with $2=key.
pubkey() {
	if [ "${2-}" = key ]; then
		"$OPENSSL" pkey -in "$1" -pubout 2>/dev/null
	else
		"$OPENSSL" x509 -in "$1" -noout -pubkey 2>/dev/null
	fi
}

# csr_fingerprint sets $fp to the SHA-256 fingerprint of the public key in
# request $1: the digest of its DER SubjectPublicKeyInfo, in peerchat's form
# (upper-case hex pairs joined by colons). It is the key's, not the
# request's, so that it stays the same however the request is re-encoded,
# and it can be checked against the key alone.
csr_fingerprint() {
	ossl req -in "$1" -noout -pubkey -out "$tmp/fp.pem"
	ossl pkey -pubin -in "$tmp/fp.pem" -outform DER -out "$tmp/fp.der"
	ossl dgst -sha256 -out "$tmp/fp.txt" "$tmp/fp.der"
	# "SHA2-256(FILE)= hex" (OpenSSL 3), "SHA256(FILE)= hex" (1.1.1,
	# LibreSSL): the digest is what follows the last "= ".
	fp=$(cat "$tmp/fp.txt")
	fp=${fp##*= }
	case $fp in
	*[!0-9a-fA-F]*) die "cannot read the digest openssl printed: $(cat "$tmp/fp.txt")" ;;
	esac
	[ "${#fp}" -eq 64 ] || die "cannot read the digest openssl printed: $(cat "$tmp/fp.txt")"
	fp=$(printf '%s\n' "$fp" | tr 'a-f' 'A-F' | sed 's/../&:/g; s/:$//')
	rm -f "$tmp/fp.pem" "$tmp/fp.der" "$tmp/fp.txt"
}

# parse_fingerprint sets $want_fp to fingerprint $1, given with -F, in
# peerchat's form. It takes what people copy from either tool: hex pairs
# with or without colons, in any case, with or without the label openssl
# puts in front ("sha256 Fingerprint=" from x509 -fingerprint,
# "SHA2-256(stdin)= " from dgst). Only a whole SHA-256 fingerprint will do:
# anyone can make keys, so a prefix would be cheaper to match.
parse_fingerprint() {
	value=$1
	case $value in
	*=*)
		label=$(printf '%s' "${value%=*}" | tr '[:upper:]' '[:lower:]' | sed 's/[ 	]*$//')
		case $label in
		*fingerprint | *\)) value=${value##*=} ;;
		*) usage_error "-F '$1': unknown label '${value%=*}='; give the fingerprint alone (AB:CD:...), or as openssl prints it (sha256 Fingerprint=AB:CD:...)" ;;
		esac
		;;
	esac
	hex=$(printf '%s' "$value" | tr -d ' 	:' | tr 'a-f' 'A-F')
	case $hex in
	'' | *[!0-9A-F]*)
		usage_error "-F '$1' is not a fingerprint: give the hex pairs that request printed (AB:CD:..., colons optional)"
		;;
	esac
	if [ "${#hex}" -ne 64 ]; then
		usage_error "-F '$1' has ${#hex} hex digits; a SHA-256 fingerprint has 64 (32 pairs): give all of what request printed"
	fi
	want_fp=$(printf '%s\n' "$hex" | sed 's/../&:/g; s/:$//')
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
	tmp=$(cd "$lockdir" && pwd) || {
		rmdir "$lockdir"
		die "cannot enter $lockdir"
	}
}

# ---- the CA -----------------------------------------------------------------

# ensure_ca reuses DIR/ca.{crt,key} if both exist, refuses a half CA, and
# otherwise makes a new one.
ensure_ca() {
	if [ -e "$dir/ca.crt" ] && [ -e "$dir/ca.key" ]; then
		crt_pub=$(pubkey "$dir/ca.crt") ||
			die "$dir/ca.crt is not a readable certificate; move it away to start a new CA"
		key_pub=$(pubkey "$dir/ca.key" key) ||
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

# need_ca is ensure_ca for sign, revoke and crl, which never create a CA:
# a new one in the wrong folder would sign certificates nobody trusts.
need_ca() {
	if [ ! -e "$dir/ca.crt" ] && [ ! -e "$dir/ca.key" ]; then
		die "no CA in $dir (neither ca.crt nor ca.key); run this where the CA's files are (-d DIR), or create a CA and your own certificate with $0 -d $dir YOURNAME"
	fi
	ensure_ca
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
	if [ -e "$dir/crl.pem" ] || [ -e "$dir/crl" ]; then
		say "warning: $dir/crl.pem and $dir/crl/ belong to the old CA; move them away"
	fi
}

# ---- peer certificates ------------------------------------------------------

# make_csr writes a request for name $1 with key $2 to $3.
make_csr() {
	ossl req -new -config "$tmp/req.cnf" -key "$2" -subj "/CN=$1" -out "$3"
}

# sign_leaf is the one place a peer certificate is made, for issue and sign
# alike: it signs request $2 as DIR/NAME.crt-to-be ($tmp/$1.crt) and checks
# it against the CA. The profile is the CA's alone: "x509 -req" copies the
# request's subject and public key and nothing else, so extensions asked for
# in the request are ignored. SANs: NAME, localhost, 127.0.0.1, ::1 and
# every -H entry; nothing this machine is called (see the top).
sign_leaf() {
	name=$1
	sans=
	add_san "DNS:$name"
	add_san DNS:localhost
	add_san IP:127.0.0.1
	add_san IP:::1
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
	new_serial
	ossl x509 -req -in "$2" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-sha256 -days "$leaf_days" -set_serial "0x$serial" \
		-extfile "$tmp/$name.ext" -extensions leaf_ext -out "$tmp/$name.crt"
	verify_leaf "$tmp/$name.crt" "the new certificate for $name" ||
		die "nothing written for $name; this is a bug in gen-certs or in openssl"
}

# issue_leaf makes NAME's key, request and certificate in the temp directory;
# install_leaf moves them into place.
issue_leaf() {
	new_key "$tmp/$1.key"
	make_csr "$1" "$tmp/$1.key" "$tmp/$1.csr"
	sign_leaf "$1" "$tmp/$1.csr"
}

install_leaf() {
	mv -f "$tmp/$1.key" "$dir/$1.key"
	mv -f "$tmp/$1.crt" "$dir/$1.crt"
	say "wrote $dir/$1.crt and $dir/$1.key, valid until $(enddate "$dir/$1.crt")"
	say_names
}

say_names() {
	say "  names: $(printf '%s\n' "$sans" | sed 's/DNS://g; s/IP://g; s/,//g')"
}

# verifies checks certificate $1 against DIR/ca.crt for both TLS roles, as
# each peer is client and server, leaving openssl's words in $tmp/verify.
verifies() {
	for purpose in sslserver sslclient; do
		if ! "$OPENSSL" verify -x509_strict -purpose "$purpose" \
			-CAfile "$dir/ca.crt" "$1" >"$tmp/verify" 2>&1; then
			return 1
		fi
	done
}

# verify_leaf is verifies, saying why on failure; $2 names $1 in messages.
verify_leaf() {
	if ! verifies "$1"; then
		say "error: $2 does not verify against $dir/ca.crt ($purpose):"
		sed 's/^/  /' "$tmp/verify" >&2
		return 1
	fi
}

# is_revoked tells whether certificate $1 is on the revocation list in
# DIR/crl/index.txt.
is_revoked() {
	[ -f "$dir/crl/index.txt" ] || return 1
	[ "$(serial_status "$(cert_serial "$1")" "$dir/crl/index.txt")" = R ]
}

# ---- issue ------------------------------------------------------------------

cmd_issue() {
	no_option -F "$fp_given" issue "it checks a request made elsewhere, and issue makes the keys here"
	if [ $# -eq 0 ]; then
		# shellcheck disable=SC2086 # the default is a word list
		set -- $default_names
	fi

	check_openssl
	for name; do
		check_name "$name"
	done
	host_sans
	this_host_name

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
				if is_revoked "$dir/$name.crt"; then
					die "$dir/$name.crt is revoked; replace it with $0 -d $dir -f $name"
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

# ---- request: on the peer's machine -----------------------------------------

cmd_request() {
	no_option -F "$fp_given" request "request prints the fingerprint, and whoever signs passes it to sign -F"
	no_option -H "$hosts" request "the CA chooses the names in the certificate; ask whoever signs to add -H \"HOST ...\" to the sign command"
	if [ $# -ne 1 ]; then
		usage_error "request takes one NAME, yours: $0 -d $dir request bob"
	fi
	name=$1
	check_openssl
	check_name "$name"

	mkdir -p "$dir" || die "cannot create directory $dir"
	lock
	if [ -e "$dir/$name.key" ] && [ -z "$force" ]; then
		die "$dir/$name.key exists; refusing to replace it (-f makes a new key and request, and $dir/$name.crt then needs signing again)"
	fi
	write_req_config
	new_key "$tmp/$name.key"
	make_csr "$name" "$tmp/$name.key" "$tmp/$name.csr"
	if ! "$OPENSSL" req -in "$tmp/$name.csr" -noout -verify >"$tmp/verify" 2>&1 ||
		! grep -q 'verify OK' "$tmp/verify"; then
		sed 's/^/  /' "$tmp/verify" >&2
		die "nothing written: the new request does not verify; this is a bug in gen-certs or in openssl"
	fi
	csr_fingerprint "$tmp/$name.csr"
	mv -f "$tmp/$name.key" "$dir/$name.key"
	mv -f "$tmp/$name.csr" "$dir/$name.csr"
	say "wrote $dir/$name.key (secret: it never leaves this machine) and the request $dir/$name.csr"
	if [ -e "$dir/$name.crt" ]; then
		say "note: $dir/$name.crt belongs to the old key; replace it with the one that comes back"
	fi
	say "key fingerprint (SHA-256) of $name.csr:"
	say "  $fp"
	say "next: send $name.csr to whoever holds the CA (never send $name.key)"
	say "  and read them this fingerprint by voice (phone, in person), not in the message with the file;"
	say "  they sign with it, so that a request swapped on the way is refused:"
	say "  scripts/gen-certs.sh sign -F FINGERPRINT $name.csr"
	say "  (adding -H \"HOST ...\" with the names or addresses of this machine if peers dial it by address)"
	say "  what comes back is $name.crt and ca.crt: put both in $dir, next to $name.key"
}

# ---- sign: on the CA's machine ----------------------------------------------

# check_csr checks request $1 and sets $name to the peer name it asks for:
# a well-formed request with a valid self-signature, an ECDSA P-256 key and
# a subject that is exactly CN=NAME.
check_csr() {
	csr=$1
	again="ask its sender for a new one, made with scripts/gen-certs.sh request NAME"
	if ! "$OPENSSL" req -in "$csr" -noout >/dev/null 2>"$tmp/err"; then
		die "$csr is not a certificate request (PEM, -----BEGIN CERTIFICATE REQUEST-----); $again"
	fi
	# OpenSSL 1.1.1 and LibreSSL exit 0 even when the signature is wrong.
	if ! "$OPENSSL" req -in "$csr" -noout -verify >"$tmp/verify" 2>&1 ||
		! grep -q 'verify OK' "$tmp/verify" || grep -qi 'fail' "$tmp/verify"; then
		die "the signature on $csr does not verify, so it was changed after it was made; $again"
	fi

	if ! "$OPENSSL" req -in "$csr" -noout -pubkey >"$tmp/csr.pub" 2>"$tmp/err" ||
		! "$OPENSSL" pkey -pubin -in "$tmp/csr.pub" -noout -text_pub >"$tmp/csr.key.txt" 2>"$tmp/err"; then
		die "cannot read the public key in $csr; $again"
	fi
	if ! grep -q '^ *ASN1 OID: prime256v1' "$tmp/csr.key.txt"; then
		if grep -q 'Modulus' "$tmp/csr.key.txt"; then
			kind='an RSA key'
		elif curve=$(sed -n 's/^ *ASN1 OID: *//p' "$tmp/csr.key.txt") && [ -n "$curve" ]; then
			kind="an EC key on curve $curve"
		else
			kind="a key of type $(sed -n '1s/[: ].*//p' "$tmp/csr.key.txt")"
		fi
		die "$csr has $kind; peerchat certificates are for ECDSA P-256 keys only: $again"
	fi

	subject=$("$OPENSSL" req -in "$csr" -noout -subject -nameopt RFC2253 2>"$tmp/err") ||
		die "cannot read the subject of $csr"
	subject=${subject#subject=}
	subject=${subject#/} # LibreSSL's older style: /CN=bob
	case $subject in
	'')
		die "$csr has no subject; it needs CN=NAME, the peer's name: $again"
		;;
	CN=*[,+]* | *[,+]CN=*)
		die "$csr has the subject '$subject'; it must be CN=NAME and nothing else: $again"
		;;
	CN=*)
		name=${subject#CN=}
		;;
	*CN=*)
		die "$csr has the subject '$subject'; it must be CN=NAME and nothing else: $again"
		;;
	*)
		die "$csr has the subject '$subject', with no CN: it needs CN=NAME, the peer's name: $again"
		;;
	esac
	check_name "$name" " (the CN of $csr)"
}

# check_fingerprint shows the fingerprint of $csr's key and goes on only if
# it is the one its owner read out: given with -F, or confirmed on a
# terminal. Without either (a script, a pipe) it goes on, and says what is
# left to check.
check_fingerprint() {
	csr_fingerprint "$csr"
	say "key fingerprint (SHA-256) of $csr, the request for $name:"
	say "  $fp"
	if [ -n "$fp_given" ]; then
		if [ "$fp" != "$want_fp" ]; then
			die "nothing written: the key fingerprint of $csr is $fp, but -F gives $want_fp; this is not the request $name made (or the fingerprint was misheard): ask $name to read it again, and never sign one that differs"
		fi
		say "it matches the fingerprint given with -F"
		return 0
	fi
	if [ -t 0 ]; then
		printf '%s: is it the fingerprint %s read to you (by voice, not in the message with the file)? [y/N] ' "$prog" "$name" >&2
		answer=
		read -r answer || answer=
		case $answer in
		[Yy] | [Yy][Ee][Ss]) return 0 ;;
		esac
		die "nothing written: not confirmed; once $name has read you the fingerprint that request printed, run $0 -d $dir ${force:+-f }sign -F FINGERPRINT $csr"
	fi
	say "note: not checked (no -F, and no terminal to ask on): before sending $name.crt back, compare this fingerprint with the one $name reads you; if it differs, send nothing and run $0 -d $dir revoke $name"
}

cmd_sign() {
	if [ $# -ne 1 ]; then
		usage_error "sign takes one request: $0 -d $dir sign bob.csr"
	fi
	csr=$1
	check_openssl
	host_sans
	if [ -n "$fp_given" ]; then
		parse_fingerprint "$fp_given"
	fi
	if [ ! -f "$csr" ] || [ ! -r "$csr" ]; then
		die "cannot read $csr: no such file"
	fi
	if [ ! -d "$dir" ]; then
		die "no folder $dir; run this where the CA's files are (-d DIR)"
	fi
	lock
	need_ca
	check_csr "$csr"
	case ${csr##*/} in
	"$name.csr") ;;
	*) say "note: $csr asks for the name '$name'" ;;
	esac

	if [ -e "$dir/$name.crt" ] && [ -z "$force" ]; then
		if ! verifies "$dir/$name.crt"; then
			why=$(sed -n 's/^error [0-9]* at [0-9]* depth lookup: *//p' "$tmp/verify" | head -n 1)
			say "replacing $dir/$name.crt: it does not verify against $dir/ca.crt${why:+ ($why)}"
		elif is_revoked "$dir/$name.crt"; then
			say "replacing $dir/$name.crt: it is revoked"
		else
			die "$dir/$name.crt exists and is valid until $(enddate "$dir/$name.crt"); to replace it, run $0 -d $dir -f sign $csr"
		fi
	fi

	# OpenSSL 3 prints the heading even for none, so look for lines under it.
	if "$OPENSSL" req -in "$csr" -noout -text 2>/dev/null | awk '
		/Requested Extensions:/ { under = 1; next }
		/^ *Signature Algorithm:/ { under = 0 }
		under && NF { found = 1 }
		END { exit !found }
	'; then
		say "note: ignored the extensions requested in $csr; the CA sets every certificate's profile"
	fi
	check_fingerprint
	write_req_config
	sign_leaf "$name" "$csr"
	mv -f "$tmp/$name.crt" "$dir/$name.crt"
	say "signed $dir/$name.crt for $name, valid until $(enddate "$dir/$name.crt")"
	say_names
	if [ -e "$dir/$name.key" ] && [ "$(pubkey "$dir/$name.key" key)" != "$(pubkey "$dir/$name.crt")" ]; then
		say "note: $dir/$name.key is not the key of the new certificate; it belongs to an older one, so remove it"
	fi
	say "next: send back $dir/$name.crt and $dir/ca.crt (never send $dir/ca.key)"
	say "  $name puts both next to $name.key"
}

# ---- revocation -------------------------------------------------------------

# The revocation list is an "openssl ca" database in DIR/crl (index.txt,
# index.txt.attr, crlnumber). Each run works on a copy in the temp directory
# and moves it back, with the new DIR/crl.pem, only after the CRL verifies.
# "openssl ca" needs a config file: a minimal one with relative paths, used
# from inside the temp directory, so that no folder name has to survive
# openssl's config syntax ($ and # are special there).

# serial_status prints the status letter (V, R, E) of serial $1 in database
# $2, comparing hex numbers, not strings.
serial_status() {
	awk -F '\t' -v s="$1" '
		function norm(x) { x = toupper(x); sub(/^0+/, "", x); return x }
		norm($4) == norm(s) { print $1; exit }
	' "$2"
}

crl_db_open() {
	# A list kept for an earlier CA must not be continued under this one.
	if [ -e "$dir/crl.pem" ] && ! crl_verifies "$dir/crl.pem"; then
		die "$dir/crl.pem is not signed by the CA in $dir/ca.crt, so it and $dir/crl/ belong to another CA; move them away (or restore that CA)"
	fi
	mkdir "$tmp/crl"
	if [ -f "$dir/crl/index.txt" ]; then
		cp "$dir/crl/index.txt" "$tmp/crl/index.txt"
		if [ -f "$dir/crl/crlnumber" ]; then
			cp "$dir/crl/crlnumber" "$tmp/crl/crlnumber"
		else
			echo 01 >"$tmp/crl/crlnumber"
		fi
	elif [ -e "$dir/crl" ] && [ ! -d "$dir/crl" ]; then
		die "$dir/crl is not a folder; move it away"
	else
		: >"$tmp/crl/index.txt"
		echo 01 >"$tmp/crl/crlnumber"
	fi
	# One name may be revoked, re-issued and revoked again.
	echo 'unique_subject = no' >"$tmp/crl/index.txt.attr"
	cat >"$tmp/ca.cnf" <<EOF
[ ca ]
default_ca = peerchat_ca

[ peerchat_ca ]
database         = crl/index.txt
crlnumber        = crl/crlnumber
default_md       = sha256
default_crl_days = $crl_days
unique_subject   = no
crl_extensions   = crl_ext

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
}

# ca runs "openssl ca" from inside the temp directory, where the database
# copy is, with the CA one level up (the temp directory is DIR/.gen-certs.tmp).
ca() {
	(
		cd "$tmp" || exit 1
		ossl ca -config ca.cnf -cert ../ca.crt -keyfile ../ca.key "$@"
	)
}

# crl_verifies checks that CRL $1 is signed by DIR/ca.crt; openssl's words
# are left in $tmp/verify. Some versions exit 0 on a bad signature.
crl_verifies() {
	"$OPENSSL" crl -in "$1" -CAfile "$dir/ca.crt" -noout >"$tmp/verify" 2>&1 &&
		grep -q 'verify OK' "$tmp/verify" && ! grep -qi 'fail' "$tmp/verify"
}

# crl_db_close signs the new CRL, checks it and moves database and CRL into
# place.
crl_db_close() {
	ca -gencrl -crldays "$crl_days" -out crl.pem
	if ! crl_verifies "$tmp/crl.pem"; then
		sed 's/^/  /' "$tmp/verify" >&2
		die "nothing written: the new CRL does not verify against $dir/ca.crt; this is a bug in gen-certs or in openssl"
	fi
	mkdir -p "$dir/crl" || die "cannot create directory $dir/crl"
	for f in index.txt index.txt.attr crlnumber; do
		mv -f "$tmp/crl/$f" "$dir/crl/$f"
	done
	mv -f "$tmp/crl.pem" "$dir/crl.pem"
	next_update=$("$OPENSSL" crl -in "$dir/crl.pem" -noout -nextupdate) ||
		die "cannot read $dir/crl.pem"
	next_update=${next_update#nextUpdate=}
}

say_crl_renew() {
	say "$dir/crl.pem is valid until $next_update; regenerate it with $0 -d $dir crl before then (and give it to your peers again)"
}

cmd_revoke() {
	no_option -H "$hosts" revoke "it only revokes"
	no_option -f "$force" revoke "revoking twice is harmless without it"
	no_option -F "$fp_given" revoke "it is for sign"
	if [ $# -ne 1 ]; then
		usage_error "revoke takes one NAME: $0 -d $dir revoke bob"
	fi
	name=$1
	check_openssl
	check_name "$name"
	if [ ! -d "$dir" ]; then
		die "no folder $dir; run this where the CA's files are (-d DIR)"
	fi
	lock
	need_ca
	crt=$dir/$name.crt
	if [ ! -e "$crt" ]; then
		die "no certificate $crt: revoke works on the certificates this CA issued or signed, kept next to ca.crt (is -d right?)"
	fi
	if ! "$OPENSSL" x509 -in "$crt" -noout 2>/dev/null; then
		die "$crt is not a readable certificate"
	fi
	if ! "$OPENSSL" verify -CAfile "$dir/ca.crt" "$crt" >"$tmp/verify" 2>&1; then
		if grep -q 'certificate has expired' "$tmp/verify"; then
			say "note: $crt has expired already; revoking it anyway"
		else
			say "$crt was not signed by the CA in $dir/ca.crt, so this CA cannot revoke it:"
			sed 's/^/  /' "$tmp/verify" >&2
			exit 1
		fi
	fi
	serial=$(cert_serial "$crt")

	crl_db_open
	if [ "$(serial_status "$serial" "$tmp/crl/index.txt")" = R ]; then
		say "$name (serial $serial) is already revoked; signing $dir/crl.pem afresh"
	else
		ca -revoke "../$name.crt" # from inside the temp directory
	fi
	crl_db_close
	say "revoked $name (serial $serial); give $dir/crl.pem to your peers; peerchat refuses $name once they have it (--crl $dir/crl.pem, default when present)"
	say_crl_renew
	say "  to give $name a new certificate: $0 -d $dir -f $name (or sign a new request)"
}

cmd_crl() {
	no_option -H "$hosts" crl "it only signs the revocation list"
	no_option -f "$force" crl "it never replaces anything but crl.pem"
	no_option -F "$fp_given" crl "it is for sign"
	if [ $# -ne 0 ]; then
		usage_error "crl takes no names (revoke does): $0 -d $dir crl"
	fi
	check_openssl
	if [ ! -d "$dir" ]; then
		die "no folder $dir; run this where the CA's files are (-d DIR)"
	fi
	lock
	need_ca
	crl_db_open
	crl_db_close
	revoked=$(awk -F '\t' '$1 == "R"' "$dir/crl/index.txt" | wc -l | tr -d ' ')
	say "wrote $dir/crl.pem, signed by the CA, listing $revoked revoked certificate(s); give it to your peers"
	say_crl_renew
}

# ---- dispatch ---------------------------------------------------------------

# parse_opts reads -d, -H, -F, -f and -h into dir, hosts, fp_given and
# force; the caller shifts by OPTIND - 1.
parse_opts() {
	OPTIND=1
	while getopts :d:H:F:fh opt; do
		case $opt in
		d) dir=$OPTARG ;;
		H) hosts="$hosts $OPTARG" ;;
		F) fp_given=$OPTARG ;;
		f) force=1 ;;
		h)
			usage
			exit 0
			;;
		:) usage_error "option -$OPTARG needs an argument" ;;
		*) usage_error "unknown option -$OPTARG" ;;
		esac
	done
}

main() {
	trap cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM

	dir=certs
	hosts=
	fp_given=
	force=
	this_host= # set by issue only, which may make a CA
	sub=issue
	case ${1-} in
	help | --help)
		usage
		exit 0
		;;
	esac
	parse_opts "$@"
	shift $((OPTIND - 1))
	case ${1-} in
	issue | request | sign | revoke | crl)
		sub=$1
		shift
		parse_opts "$@"
		shift $((OPTIND - 1))
		;;
	help)
		usage
		exit 0
		;;
	esac
	if [ -z "$dir" ]; then
		usage_error "-d needs a directory"
	fi
	"cmd_$sub" "$@"
}

main "$@"
