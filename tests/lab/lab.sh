# SPDX-License-Identifier: GPL-2.0-only
# lab.sh - a throwaway SMTP lab: a real Postfix in one network namespace, clients in another.
#
# Source it from bash (as root), pick a unique prefix, trap the teardown:
#
#   . tests/lab/lab.sh
#   lab_init "smlab$$"              # max 12 characters; makes $LAB_DIR (temp dir)
#   trap lab_teardown EXIT
#   lab_netns                       # or: lab_netns_loopback (one namespace, 127.0.0.1 and ::1)
#   lab_postfix_start               # Postfix on ports 25, 587 and 465 in $LAB_SRV_NS
#   lab_cli swaks --server "$LAB_SRV4" --to "$LAB_RCPT" ...    # run a client
#   lab_srv tcpdump -i "$LAB_SRV_IF" ...                        # run something server-side
#
# After lab_netns / lab_netns_loopback:
#   LAB_SRV_NS, LAB_CLI_NS   namespace names (the same one in the loopback variant)
#   LAB_SRV_IF, LAB_CLI_IF   veth ends (both "lo" in the loopback variant)
#   LAB_SRV4, LAB_CLI4       IPv4 addresses;  LAB_SRV6, LAB_CLI6  IPv6 addresses
# After lab_postfix_start:
#   LAB_RCPT, LAB_RCPT2      accepted recipients; LAB_REJECTED_RCPT is refused (554 5.1.1)
#   LAB_FROM                 a sender;  LAB_USER / LAB_PASS  SASL PLAIN/LOGIN credentials
#   LAB_MAILLOG              Postfix's log file
#
# Postfix: port 25 plain with STARTTLS offered, PIPELINING, CHUNKING, AUTH PLAIN LOGIN also
# without TLS; port 587 requires STARTTLS (smtpd_tls_security_level=encrypt); port 465 is
# implicit TLS (smtps, smtpd_tls_wrappermode=yes) with AUTH. Every accepted message goes to
# the discard transport: nothing is relayed or delivered anywhere.
# LAB_POSTSCREEN=1 (set before lab_postfix_start): postscreen answers on port 25 instead, with
# its deep protocol tests on, so that a client it has not seen yet talks to postscreen's own
# SMTP engine, STARTTLS served by tlsproxy, and is deferred at RCPT (450 4.3.2); once it has
# passed (cached), its next connections on 25 are handed to smtpd. No pregreet banner and no
# DNSBL: nothing waits. Clients in mynetworks (127.0.0.0/8: the loopback lab) skip the tests.
# LAB_RELAY=1 (set before lab_postfix_start): mail to LAB_RELAY_RCPT (domain relay.example) is
# relayed by Postfix's own smtp client, STARTTLS required, to port 25 of $LAB_CLI4, where the
# test runs a second server (lab_relay_server).
# lab_teardown stops Postfix, kills whatever is left in the namespaces, deletes them and $LAB_DIR.
# Several labs can run at the same time as long as their prefixes differ.

LAB_DOMAIN=lab.example

lab_log() { printf 'lab: %s\n' "$*" >&2; }
# Report a failure; the status is 1, so `|| { lab_fail ...; return; }` passes it on.
lab_fail() {
	lab_log "$*"
	return 1
}

lab_init() {
	local prefix=$1
	[[ $prefix =~ ^[a-z][a-z0-9]{0,11}$ ]] ||
		{ lab_fail "prefix '$prefix' must be 1-12 lowercase letters/digits"; return; }
	[[ $EUID -eq 0 ]] || { lab_fail "must run as root (network namespaces)"; return; }
	LAB_PREFIX=$prefix
	LAB_DIR=$(mktemp -d "/tmp/$prefix.XXXXXX") || return 1
	# Postfix daemons run as user postfix and must reach their queue below LAB_DIR.
	chmod 755 "$LAB_DIR"
	LAB_NAMESPACES=()
	LAB_POSTFIX_DIR=
}

lab_srv() { ip netns exec "$LAB_SRV_NS" "$@"; }
lab_cli() { ip netns exec "$LAB_CLI_NS" "$@"; }

# Two namespaces joined by a veth pair, IPv4 and IPv6 on it.
lab_netns() {
	LAB_SRV_NS=${LAB_PREFIX}-srv
	LAB_CLI_NS=${LAB_PREFIX}-cli
	LAB_SRV_IF=${LAB_PREFIX}s
	LAB_CLI_IF=${LAB_PREFIX}c
	LAB_SRV4=10.199.0.1
	LAB_CLI4=10.199.0.2
	LAB_SRV6=fd00:199::1
	LAB_CLI6=fd00:199::2
	ip netns add "$LAB_SRV_NS" || return 1
	LAB_NAMESPACES+=("$LAB_SRV_NS")
	ip netns add "$LAB_CLI_NS" || return 1
	LAB_NAMESPACES+=("$LAB_CLI_NS")
	ip link add "$LAB_SRV_IF" netns "$LAB_SRV_NS" type veth peer name "$LAB_CLI_IF" \
		netns "$LAB_CLI_NS" || return 1
	lab_srv ip link set lo up &&
		lab_cli ip link set lo up &&
		lab_srv ip addr add "$LAB_SRV4/24" dev "$LAB_SRV_IF" &&
		lab_cli ip addr add "$LAB_CLI4/24" dev "$LAB_CLI_IF" &&
		lab_srv ip addr add "$LAB_SRV6/64" dev "$LAB_SRV_IF" nodad &&
		lab_cli ip addr add "$LAB_CLI6/64" dev "$LAB_CLI_IF" nodad &&
		lab_srv ip link set "$LAB_SRV_IF" up &&
		lab_cli ip link set "$LAB_CLI_IF" up || return 1
	# A veth carries traffic once both ends are up; wait for that so the first SYN is not lost.
	local i
	for i in $(seq 50); do
		[[ $(lab_srv cat "/sys/class/net/$LAB_SRV_IF/operstate") == up &&
			$(lab_cli cat "/sys/class/net/$LAB_CLI_IF/operstate") == up ]] && return 0
		sleep 0.1
	done
	lab_fail "veth $LAB_SRV_IF/$LAB_CLI_IF does not come up"
}

# Client and server in one namespace, talking over loopback.
lab_netns_loopback() {
	LAB_SRV_NS=${LAB_PREFIX}-lo
	LAB_CLI_NS=$LAB_SRV_NS
	LAB_SRV_IF=lo
	LAB_CLI_IF=lo
	LAB_SRV4=127.0.0.1
	LAB_CLI4=127.0.0.1
	LAB_SRV6=::1
	LAB_CLI6=::1
	ip netns add "$LAB_SRV_NS" || return 1
	LAB_NAMESPACES+=("$LAB_SRV_NS")
	lab_srv ip link set lo up
}

lab_write_postfix_config() {
	local d=$1
	mkdir -p "$d/etc/sasl" "$d/queue" "$d/data" || return 1
	chown postfix "$d/data" || return 1

	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.$LAB_DOMAIN" \
		-keyout "$d/etc/key.pem" -out "$d/etc/cert.pem" 2>"$d/openssl.log" ||
		{ lab_fail "openssl: $(cat "$d/openssl.log")"; return; }

	cat >"$d/etc/sasl/smtpd.conf" <<-EOF
		pwcheck_method: auxprop
		auxprop_plugin: sasldb
		mech_list: PLAIN LOGIN
		sasldb_path: $d/etc/sasl/sasldb2
	EOF
	printf '%s' "$LAB_PASS" | saslpasswd2 -p -c -f "$d/etc/sasl/sasldb2" -u "$LAB_DOMAIN" \
		"${LAB_USER%@*}" 2>"$d/saslpasswd2.log" ||
		{ lab_fail "saslpasswd2: $(cat "$d/saslpasswd2.log")"; return; }
	chgrp postfix "$d/etc/sasl/sasldb2" && chmod 640 "$d/etc/sasl/sasldb2" || return 1

	printf '%s REJECT 5.1.1 no such user here\n' "$LAB_REJECTED_RCPT" >"$d/etc/rcpt_access"

	cat >"$d/etc/main.cf" <<-EOF
		compatibility_level = 3.6
		queue_directory = $d/queue
		data_directory = $d/data
		maillog_file_prefixes = $d
		maillog_file = $LAB_MAILLOG
		myhostname = mx.$LAB_DOMAIN
		mydomain = $LAB_DOMAIN
		myorigin = \$mydomain
		mydestination = \$mydomain
		mynetworks = 127.0.0.0/8
		inet_interfaces = all
		inet_protocols = all
		smtpd_banner = \$myhostname ESMTP smtpmon-lab
		biff = no
		alias_maps =
		alias_database =
		local_recipient_maps =
		# Nothing leaves the lab: every delivery is discarded.
		local_transport = discard:lab
		default_transport = discard:lab
		relay_transport = discard:lab
		smtpd_relay_restrictions = reject_unauth_destination
		smtpd_recipient_restrictions = check_recipient_access texthash:$d/etc/rcpt_access, permit
		smtpd_error_sleep_time = 0
		smtpd_peername_lookup = no
		smtpd_tls_cert_file = $d/etc/cert.pem
		smtpd_tls_key_file = $d/etc/key.pem
		smtpd_tls_security_level = may
		smtpd_tls_auth_only = no
		smtpd_sasl_auth_enable = yes
		smtpd_sasl_type = cyrus
		smtpd_sasl_path = smtpd
		cyrus_sasl_config_path = $d/etc/sasl
		smtpd_sasl_security_options = noanonymous
		broken_sasl_auth_clients = no
	EOF
	if [[ ${LAB_RELAY:-0} == 1 ]]; then
		printf 'relay.example smtp:[%s]:25\n' "$LAB_CLI4" >"$d/etc/transport"
		cat >>"$d/etc/main.cf" <<-EOF
			relay_domains = relay.example
			transport_maps = texthash:$d/etc/transport
			smtp_tls_security_level = encrypt
			smtp_tls_loglevel = 1
			smtp_connection_cache_on_demand = no
		EOF
	fi
	if [[ ${LAB_POSTSCREEN:-0} == 1 ]]; then
		cat >>"$d/etc/main.cf" <<-EOF
			postscreen_greet_banner =
			postscreen_dnsbl_sites =
			postscreen_pipelining_enable = yes
			postscreen_non_smtp_command_enable = yes
			postscreen_bare_newline_enable = yes
			postscreen_tls_security_level = may
			postscreen_cache_map = btree:\$data_directory/postscreen_cache
		EOF
	fi

	if [[ ${LAB_POSTSCREEN:-0} == 1 ]]; then
		cat >"$d/etc/master.cf" <<-'EOF'
			smtp       inet  n  -  n  -  1  postscreen
			smtpd      pass  -  -  n  -  -  smtpd
			tlsproxy   unix  -  -  n  -  0  tlsproxy
			dnsblog    unix  -  -  n  -  0  dnsblog
		EOF
	else
		echo 'smtp       inet  n  -  n  -  -  smtpd' >"$d/etc/master.cf"
	fi
	cat >>"$d/etc/master.cf" <<-'EOF'
		submission inet  n  -  n  -  -  smtpd -o smtpd_tls_security_level=encrypt
		smtps      inet  n  -  n  -  -  smtpd -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes
		pickup     unix  n  -  n  60 1  pickup
		cleanup    unix  n  -  n  -  0  cleanup
		qmgr       unix  n  -  n  300 1 qmgr
		tlsmgr     unix  -  -  n  1000? 1 tlsmgr
		rewrite    unix  -  -  n  -  -  trivial-rewrite
		bounce     unix  -  -  n  -  0  bounce
		defer      unix  -  -  n  -  0  bounce
		trace      unix  -  -  n  -  0  bounce
		verify     unix  -  -  n  -  1  verify
		flush      unix  n  -  n  1000? 0 flush
		proxymap   unix  -  -  n  -  -  proxymap
		showq      unix  n  -  n  -  -  showq
		error      unix  -  -  n  -  -  error
		retry      unix  -  -  n  -  -  error
		discard    unix  -  -  n  -  -  discard
		anvil      unix  -  -  n  -  1  anvil
		scache     unix  -  -  n  -  1  scache
		postlog    unix-dgram n - n - 1 postlogd
	EOF
	if [[ ${LAB_RELAY:-0} == 1 ]]; then
		echo 'smtp       unix  -  -  n  -  -  smtp' >>"$d/etc/master.cf"
	fi
}

# Start Postfix in the server namespace and wait until ports 25, 587 and 465 listen.
lab_postfix_start() {
	LAB_USER=alice@$LAB_DOMAIN
	LAB_PASS=lab-secret-7
	LAB_FROM=sender@client.example
	LAB_RCPT=bob@$LAB_DOMAIN
	LAB_RCPT2=carol@$LAB_DOMAIN
	LAB_REJECTED_RCPT=nobody@$LAB_DOMAIN
	LAB_RELAY_RCPT=dave@relay.example
	LAB_MAILLOG=$LAB_DIR/postfix/maillog
	lab_write_postfix_config "$LAB_DIR/postfix" || return 1
	LAB_POSTFIX_DIR=$LAB_DIR/postfix/etc
	lab_srv postfix -c "$LAB_POSTFIX_DIR" start >"$LAB_DIR/postfix/start.log" 2>&1 ||
		{ lab_fail "postfix start failed: $(cat "$LAB_DIR/postfix/start.log")"; return; }
	local i
	for i in $(seq 100); do
		if lab_srv ss -Hltn 'sport = :25' | grep -q . &&
			lab_srv ss -Hltn 'sport = :587' | grep -q . &&
			lab_srv ss -Hltn 'sport = :465' | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	lab_fail "postfix does not listen on 25/587/465; log: $(tail -5 "$LAB_MAILLOG" 2>/dev/null)"
}

# Exim (GnuTLS) on port 25 in the server namespace instead of Postfix, from an exim4 binary
# that need not be installed (the test unpacks Debian's package into a temporary directory):
# lab_exim_start EXIM. STARTTLS (the lab's certificate), PIPELINING, CHUNKING; LAB_REJECTED_RCPT
# is refused with 554 at RCPT, every other message is queued and never delivered. Its
# spool, log (LAB_MAILLOG) and configuration live below $LAB_DIR/exim; it runs as user mail.
# Needs util-linux's unshare (a private mount namespace).
lab_exim_start() {
	local exim=$1 x=$LAB_DIR/exim i
	LAB_FROM=sender@client.example
	LAB_RCPT=bob@$LAB_DOMAIN
	LAB_RCPT2=carol@$LAB_DOMAIN
	LAB_REJECTED_RCPT=nobody@$LAB_DOMAIN
	LAB_MAILLOG=$x/log/mainlog
	mkdir -p "$x/spool" "$x/log" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mx.$LAB_DOMAIN" \
		-keyout "$x/key.pem" -out "$x/cert.pem" 2>"$x/openssl.log" ||
		{ lab_fail "openssl: $(cat "$x/openssl.log")"; return; }
	chown -R mail:mail "$x" || return 1
	cat >"$x/exim.conf" <<-EOF
		primary_hostname = mx.$LAB_DOMAIN
		exim_path = $exim
		queue_only = true
		exim_user = mail
		exim_group = mail
		spool_directory = $x/spool
		log_file_path = $x/log/%slog
		pid_file_path = $x/exim.pid
		daemon_smtp_ports = 25
		smtp_banner = \$primary_hostname ESMTP smtpmon-lab-exim
		host_lookup =
		rfc1413_hosts =
		keep_environment =
		tls_advertise_hosts = *
		tls_certificate = $x/cert.pem
		tls_privatekey = $x/key.pem
		pipelining_advertise_hosts = *
		chunking_advertise_hosts = *
		acl_smtp_rcpt = check_rcpt
		begin acl
		check_rcpt:
		  deny recipients = $LAB_REJECTED_RCPT
		       message = 554 5.1.1 no such user here
		  accept
	EOF
	# Debian's exim4 is built to look up user Debian-exim: a name for user mail, in a private
	# mount namespace, so that nothing of the host changes.
	{ cat /etc/passwd && echo "Debian-exim:x:$(id -u mail):$(id -g mail)::/nonexistent:/bin/false"; } \
		>"$x/passwd" && { cat /etc/group && echo "Debian-exim:x:$(id -g mail):"; } >"$x/group" ||
		return 1
	lab_srv unshare -m sh -c 'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" \
		/etc/group && exec "$2" -C "$1/exim.conf" -bdf' sh "$x" "$exim" >"$x/daemon.log" 2>&1 &
	for i in $(seq 100); do
		lab_srv ss -Hltn 'sport = :25' | grep -q . && return 0
		sleep 0.1
	done
	lab_fail "exim does not listen on 25: $(cat "$x/daemon.log" "$x/log/paniclog" 2>/dev/null)"
}

# LAB_RELAY=1: the second server, in the client namespace on $LAB_CLI4 port 25: tools/smtp-sink.py
# with STARTTLS (the lab's certificate), its TLS key log in $LAB_DIR/relay-keylog. Extra
# environment for it (LD_LIBRARY_PATH, say) as arguments NAME=VALUE. Waits until it listens.
lab_relay_server() {
	local i
	lab_cli env SSLKEYLOGFILE="$LAB_DIR/relay-keylog" "$@" python3 tools/smtp-sink.py \
		"$LAB_CLI4" 25 "$LAB_DIR/postfix/etc/cert.pem" "$LAB_DIR/postfix/etc/key.pem" \
		>"$LAB_DIR/relay-server.log" 2>&1 &
	for i in $(seq 100); do
		lab_cli ss -Hltn 'sport = :25' | grep -q . && return 0
		sleep 0.1
	done
	lab_fail "the second server does not listen: $(cat "$LAB_DIR/relay-server.log")"
}

# Wait until the server has no SMTP session left (all clients have closed).
lab_wait_idle() {
	local i
	for i in $(seq 100); do
		lab_srv ss -Htn state established '( sport = :25 or sport = :587 or sport = :465 )' |
			grep -q . ||
			return 0
		sleep 0.1
	done
	return 1
}

lab_teardown() {
	local ns pids
	local -a namespaces=(${LAB_NAMESPACES[@]+"${LAB_NAMESPACES[@]}"})
	if [[ -n ${LAB_POSTFIX_DIR:-} && -d $LAB_POSTFIX_DIR ]]; then
		lab_srv postfix -c "$LAB_POSTFIX_DIR" stop >/dev/null 2>&1 ||
			lab_srv postfix -c "$LAB_POSTFIX_DIR" abort >/dev/null 2>&1
		LAB_POSTFIX_DIR=
	fi
	for ns in ${namespaces[@]+"${namespaces[@]}"}; do
		# Only processes inside our own namespaces: the ones this lab started.
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[[ -n $pids ]] && { kill $pids 2>/dev/null || true; }
	done
	for ns in ${namespaces[@]+"${namespaces[@]}"}; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# A process may exit during the wait: kill must not fail the caller's set -e.
		[[ -n $pids ]] && { sleep 0.5; kill -9 $(ip netns pids "$ns") 2>/dev/null || true; }
		ip netns del "$ns" 2>/dev/null || true
	done
	LAB_NAMESPACES=()
	if [[ -n ${LAB_DIR:-} && -d $LAB_DIR && $LAB_DIR == /tmp/${LAB_PREFIX}.* ]]; then
		rm -rf "$LAB_DIR"
	fi
	LAB_DIR=
	return 0
}
