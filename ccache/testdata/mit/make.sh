#!/bin/bash
# make.sh: make the golden FILE ccaches in this directory with real MIT
# krb5 tools and a throwaway loopback-only KDC.
#
# Needs (Debian): krb5-kdc krb5-admin-server krb5-user; for the removed-entry
# caches also gcc and libkrb5-dev (skipped with a message if missing).
# Usage: bash make.sh [outdir]   (default: the directory of this script)
#
# Everything (database, stash, config, logs, caches) lives in a temp dir; the
# KDC listens on 127.0.0.1 only, on a free port, and is stopped by its PID.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:-$here}" && pwd)
D=$(mktemp -d /tmp/ccache-kdc.XXXXXX)
REALM=TEST.LOCAL
kdcpid=
cleanup() {
	if [ -n "$kdcpid" ] && kill -0 "$kdcpid" 2>/dev/null; then
		kill "$kdcpid"
		for _ in $(seq 50); do kill -0 "$kdcpid" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -rf "$D"
}
trap cleanup EXIT

# A free TCP and UDP port on 127.0.0.1.
port=$(python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))

# krb5.conf for clients; $1 = ccache_type (format version), empty = default.
write_conf() {
	{
		echo "[libdefaults]"
		echo "  default_realm = $REALM"
		echo "  dns_lookup_kdc = false"
		echo "  dns_lookup_realm = false"
		echo "  rdns = false"
		[ -n "$1" ] && echo "  ccache_type = $1"
		echo "[realms]"
		echo "  $REALM = {"
		echo "    kdc = 127.0.0.1:$port"
		echo "  }"
	} > "$D/krb5.conf"
}
write_conf ""
cat > "$D/kdc.conf" <<CONF
[kdcdefaults]
  kdc_listen = 127.0.0.1:$port
  kdc_tcp_listen = 127.0.0.1:$port
[realms]
  $REALM = {
    database_name = $D/principal
    key_stash_file = $D/stash
    acl_file = $D/kadm5.acl
    kdc_listen = 127.0.0.1:$port
    kdc_tcp_listen = 127.0.0.1:$port
    max_life = 10h
    max_renewable_life = 7d
  }
[logging]
  kdc = FILE:$D/kdc.log
  default = FILE:$D/kdc.log
CONF
: > "$D/kadm5.acl"
export KRB5_CONFIG=$D/krb5.conf KRB5_KDC_PROFILE=$D/kdc.conf TZ=UTC LC_ALL=C

kdb5_util create -s -W -r $REALM -P masterpw > /dev/null 2>&1
kadmin.local -r $REALM -q "addprinc -pw secret123 alice@$REALM" > /dev/null 2>&1
kadmin.local -r $REALM -q "addprinc -pw secret456 +requires_preauth bob@$REALM" > /dev/null 2>&1
kadmin.local -r $REALM -q "addprinc -randkey host/svc.test.local@$REALM" > /dev/null 2>&1
kadmin.local -r $REALM -q "modprinc -maxrenewlife 7d krbtgt/$REALM@$REALM" > /dev/null 2>&1
krb5kdc -r $REALM -P "$D/kdc.pid"
for _ in $(seq 50); do [ -s "$D/kdc.pid" ] && break; sleep 0.1; done
kdcpid=$(cat "$D/kdc.pid")

# kinit_to FILE PRINC PASSWORD [kinit options...]
kinit_to() {
	local cc=$1 princ=$2 pw=$3
	shift 3
	rm -f "$cc"
	echo "$pw" | KRB5CCNAME=FILE:$cc kinit "$@" "$princ" > /dev/null
}

# One cache per format version: kinit (forwardable, renewable) then kvno.
for v in 1 2 3 4; do
	write_conf $v
	kinit_to "$D/v$v-kinit" alice secret123 -f -r 2d
	cp "$D/v$v-kinit" "$out/v$v-kinit.cc"
	KRB5CCNAME=FILE:$D/v$v-kinit kvno host/svc.test.local > /dev/null
	cp "$D/v$v-kinit" "$out/v$v-kvno.cc"
done
write_conf ""

# Default format (4), pre-authenticated principal: kinit writes pa_type too.
kinit_to "$D/v4-preauth" bob secret456
KRB5CCNAME=FILE:$D/v4-preauth kvno host/svc.test.local > /dev/null
cp "$D/v4-preauth" "$out/v4-preauth.cc"

# Addresses in the ticket (kinit -a), proxiable, not forwardable.
kinit_to "$D/v4-addr" alice secret123 -a -p -F
cp "$D/v4-addr" "$out/v4-addr.cc"

# Removed entries: a tiny program calls krb5_cc_remove_cred on the TGT and
# on a config entry, which MIT 1.20 marks in place in FILE caches.
if command -v gcc > /dev/null && [ -e /usr/include/krb5.h ]; then
	gcc -o "$D/rmcred" "$here/rmcred.c" -lkrb5
	for v in 3 4; do
		write_conf $v
		kinit_to "$D/v$v-removed" alice secret123 -f
		KRB5CCNAME=FILE:$D/v$v-removed kvno host/svc.test.local > /dev/null
		KRB5CCNAME=FILE:$D/v$v-removed "$D/rmcred"
		cp "$D/v$v-removed" "$out/v$v-removed.cc"
	done
	write_conf ""
else
	echo "make.sh: gcc or libkrb5-dev missing; removed-entry caches not remade" >&2
fi

# What klist says about each (times in UTC, C locale), for the tests.
cd "$out"
for f in *.cc; do
	klist -c "FILE:$f" -e -f -C -a -n > "${f%.cc}.klist"
done
chmod 0644 "$out"/*.cc

# Seed corpus for FuzzParse (go test fuzz v1 files), when writing here.
seeds=$here/../fuzz/FuzzParse
if [ "$out" = "$here" ] && [ -d "$seeds" ]; then
	for f in *.cc; do
		python3 - "$f" "$seeds/mit-${f%.cc}" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
q = "".join(chr(c) if 32 <= c < 127 and c not in (34, 92) else "\\x%02x" % c for c in b)
open(sys.argv[2], "w").write('go test fuzz v1\n[]byte("%s")\n' % q)
PY
	done
fi
