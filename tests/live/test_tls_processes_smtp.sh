#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# test_tls_processes_smtp.sh - test_tls_plaintext.sh with `--tls-processes smtp`: the uprobes
# attached per process (user/capture/tls_attach.h) to the lab's Postfix, found by the kernel's
# scan at start and by its forks, and to the clients, found when they connect; every
# scenario inside TLS against tshark as there, and the non-SMTP TLS processes not probed.
TLS_PROCESSES=smtp exec bash "$(dirname "$0")/test_tls_plaintext.sh"
