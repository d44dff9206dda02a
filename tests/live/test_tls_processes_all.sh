#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_processes_all.sh - test_tls_plaintext.sh with `--tls-processes all`: the uprobes on
# the library files, as under the systemd unit, where tracefs cannot be written and `auto`
# takes this mode; every scenario inside TLS against tshark as there, and the non-SMTP TLS
# process's calls seen by the probes but not copied.
TLS_PROCESSES=all exec bash "$(dirname "$0")/test_tls_plaintext.sh"
