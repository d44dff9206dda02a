# SPDX-License-Identifier: GPL-2.0-only
# smtpmon - build in the shape of libbpf-bootstrap / bcc libbpf-tools:
# BPF object -> bpftool skeleton -> user space, everything under $(BUILD)/.
#
#   make            build/smtpmon and build/smtpmonctl
#   make test       everything tests/run-tests runs (root: namespaces, BPF)
#   make unit       cmocka unit tests only
#   make test-kernels [KERNEL=6.1|6.12|linux-image-...]   the kernel matrix (QEMU)
#   make san        build/san/smtpmon with ASan + UBSan
#   make fuzz       libFuzzer harnesses (FUZZ_SECONDS each, default 60)
#   make fuzz-long  the same for FUZZ_LONG_SECONDS each (default 3600), with the corpus
#                   kept in build/fuzz-corpus/ from run to run
#   make bench      benchmarks against peers measured in the same run
#   make demo       live demo in a throwaway namespace pair
#   make vmlinux    regenerate vmlinux/ from /sys/kernel/btf/vmlinux
#   make version    the version built into the programs (git describe, or VERSION)
#   make install    programs, unit, sysusers.d and tmpfiles.d entries, catalog, man pages, example
#                   /etc/smtpmon/smtpmon.conf, /etc/logrotate.d/smtpmon (PREFIX, DESTDIR,
#                   SYSCONFDIR)
#   make uninstall  removes what make install installed (edited config and snippet kept)

BUILD ?= build
OBJ := $(BUILD)/obj
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
# The version: `git describe` in a clone (a tag if there is one, else the abbreviated commit;
# -dirty with uncommitted changes), else the VERSION file (filled in by `git archive`), else
# "unknown". Only a work tree whose top is this directory counts: a tarball unpacked inside
# another repository must not take that one's version.
GIT_TOP := $(shell git rev-parse --show-toplevel 2>/dev/null)
ifeq ($(realpath $(GIT_TOP)),$(realpath $(CURDIR)))
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
else
VERSION := $(shell sed -n '/^\#/d; /\$$Format/d; /[^[:space:]]/{p;q;}' VERSION 2>/dev/null)
endif
VERSION := $(or $(strip $(VERSION)),unknown)

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror
ALL_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -Iuser -Ibpf -I$(BUILD) $(EXTRA_CFLAGS)
LIBS := -lpcap -lbpf -lelf -lz -lsystemd -linih -lcap -lmicrohttpd -lpthread -lcrypto -lmagic
LDFLAGS += $(EXTRA_LDFLAGS)

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) $(WARN) \
	-Ivmlinux/$(ARCH) -Ibpf
# clang's own system include dirs, so <asm/...> resolves (libbpf-bootstrap trick).
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

LIB_SRCS := $(wildcard user/*/*.c)
LIB_OBJS := $(patsubst user/%.c,$(OBJ)/%.o,$(LIB_SRCS))
HEADERS := $(wildcard user/*/*.h bpf/*.h)
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

# $(call need,COMMAND,NAME): stops make with one line naming a build tool that is not there
# (expanded where a rule runs it, so make clean and make install -o all do not need it).
need = $(if $(shell command -v $(firstword $(1)) 2>/dev/null),,$(error $(2) not found: \
	'$(firstword $(1))' (install the build dependencies: sudo tools/install-deps.sh build)))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all deps test test-kernels unit san fuzz fuzz-long fuzz-build bench demo vmlinux clean format \
	version FORCE
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/smtpmon $(BUILD)/smtpmonctl

$(OBJ) $(BUILD)/tests $(BUILD)/fuzz:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) | $(OBJ)
	$(call need,$(CLANG),clang)$(call need,$(BPFTOOL),bpftool)$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

# The version string, rewritten only when it changes: user/settings/version.c (and what links it) is
# rebuilt after a commit, nothing else.
$(BUILD)/version-string.h: FORCE | $(OBJ)
	$(Q)printf '#define SMTPMON_VERSION "%s"\n' '$(VERSION)' >$@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(OBJ)/settings/version.o: $(BUILD)/version-string.h
FORCE:

version:
	@echo '$(VERSION)'

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call need,$(BPFTOOL),bpftool)$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OBJ)/%.o: user/%.c $(HEADERS) $(SKELS) | $(OBJ)
	$(call need,$(CC),C compiler)$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Programs and tests link the modules from an archive, so each takes only
# the modules it uses.
LIB := $(BUILD)/libsmtpmon.a
$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/smtpmon: $(OBJ)/main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

$(BUILD)/smtpmonctl: $(OBJ)/smtpmonctl.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDFLAGS) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(HEADERS) | $(BUILD)/tests
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -I$(BUILD)/tests $< $(LIB) -o $@ $(LDFLAGS) $(LIBS) -lcmocka

# BPF objects of the unit tests (tests/unit/*.bpf.c), with their skeletons.
$(BUILD)/tests/%.bpf.o: tests/unit/%.bpf.c | $(BUILD)/tests
	$(call need,$(CLANG),clang)$(call need,$(BPFTOOL),bpftool)$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(BUILD)/tests/%.skel.h: $(BUILD)/tests/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/tests/test_bpf_log: $(BUILD)/tests/rejected.skel.h

# Segmentation-invariance driver (tests/corpus/test_reseg.sh): smtpmon's own
# pcap source with pipeline_segment/pipeline_tick intercepted to re-cut segments.
$(BUILD)/tools/reseg: tests/tools/reseg.c $(LIB) $(HEADERS)
	$(call msg,CC-TOOL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) -o $@ $(LDFLAGS) $(LIBS) \
		-Wl,--wrap=pipeline_segment,--wrap=pipeline_tick

# BPF_PROG_TEST_RUN micro-benchmark of the capture programs (make bench).
$(BUILD)/tools/bpfbench: tools/bpfbench.c $(LIB) $(SKELS) $(HEADERS)
	$(call msg,CC-TOOL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) -o $@ $(LDFLAGS) $(LIBS)

# One call of a probed TLS library function, for the TLS part of make bench.
$(BUILD)/tools/tls-call-bench: tools/tls-call-bench.c
	$(call msg,CC-TOOL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@ $(LDFLAGS) -lssl -lcrypto

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

san:
	$(Q)$(MAKE) --no-print-directory BUILD=build/san \
		EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer' \
		EXTRA_LDFLAGS='-fsanitize=address,undefined' build/san/smtpmon build/san/tools/reseg

# libFuzzer: library objects instrumented with clang, one binary per harness.
fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=build/fuzz CC=$(CLANG) CFLAGS='-O1 -g' \
		EXTRA_CFLAGS='-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer' \
		$(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB) $(HEADERS)
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(LIB) -o $@ $(LIBS)

FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	$(Q)tests/run-fuzz.sh $(FUZZ_SECONDS)

FUZZ_LONG_SECONDS ?= 3600
fuzz-long: fuzz-build
	$(Q)tests/run-fuzz.sh --corpus $(BUILD)/fuzz-corpus $(FUZZ_LONG_SECONDS)

# demo and test start by installing whatever Debian packages they need and are missing, so
# that both work on a fresh machine; nothing else (tools/install-deps.sh: build, run, demo,
# test). make deps installs all of them.
deps:
	$(Q)tools/install-deps.sh all

test:
	$(Q)tools/install-deps.sh build test
	$(Q)$(MAKE) --no-print-directory all san
	$(Q)tests/run-tests.sh

# The kernel matrix alone (also part of make test): KERNEL=6.1, 6.12 or a Debian
# linux-image package name; default the newest 6.1 and 6.12.
test-kernels: all $(BUILD)/tests/test_bpf_prog $(BUILD)/tests/test_bpf_log
	$(Q)tests/kernels/test_kernels.sh $(KERNEL)

bench: all $(BUILD)/tools/bpfbench $(BUILD)/tools/tls-call-bench
	$(Q)tools/bench.sh

demo:
	$(Q)tools/install-deps.sh build demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

vmlinux:
	$(Q)tools/gen-vmlinux.sh

# Packages pass PREFIX=/usr. systemd also reads units, sysusers.d, tmpfiles.d and catalogs under
# /usr/local/lib, so the default PREFIX works without a package.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
CONF := $(DESTDIR)$(SYSCONFDIR)/smtpmon/smtpmon.conf
LOGROTATE := $(DESTDIR)$(SYSCONFDIR)/logrotate.d/smtpmon

# The example configuration and the logrotate snippet never replace existing ones. Without DESTDIR (installing
# on this machine, not staging a package) the user, /var/log/smtpmon, the catalog and the units are made
# known to the system, as a package's maintainer scripts and dpkg triggers would.
.PHONY: install
install: all
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(CATALOGDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/smtpmon $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	$(Q)install -m 0755 $(BUILD)/smtpmon $(BUILD)/smtpmonctl $(DESTDIR)$(SBINDIR)/
	$(Q)sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/etc/smtpmon/|$(SYSCONFDIR)/smtpmon/|g' \
		systemd/smtpmon.service >$(DESTDIR)$(UNITDIR)/smtpmon.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/smtpmon.service
	$(Q)install -m 0644 systemd/smtpmon.sysusers $(DESTDIR)$(SYSUSERSDIR)/smtpmon.conf
	$(Q)install -m 0644 systemd/smtpmon.tmpfiles $(DESTDIR)$(TMPFILESDIR)/smtpmon.conf
	$(Q)install -m 0644 systemd/smtpmon.catalog $(DESTDIR)$(CATALOGDIR)/smtpmon.catalog
	$(Q)install -m 0644 man/smtpmon.8 man/smtpmonctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(Q)install -m 0644 man/smtpmon.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(Q)if [ -e $(CONF) ]; then echo "  kept     $(CONF) (example not installed)"; \
	else install -m 0644 etc/smtpmon.conf $(CONF); fi
	$(Q)if [ -e $(LOGROTATE) ]; then echo "  kept     $(LOGROTATE) (not replaced)"; \
	else install -m 0644 etc/smtpmon.logrotate $(LOGROTATE); fi
ifeq ($(DESTDIR),)
	$(Q)if command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/smtpmon.conf; fi
	$(Q)if command -v systemd-tmpfiles >/dev/null; then \
		systemd-tmpfiles --create $(TMPFILESDIR)/smtpmon.conf; fi
	$(Q)if command -v journalctl >/dev/null; then journalctl --update-catalog; fi
	$(Q)if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
endif

# uninstall removes what install installed, with the same PREFIX, DESTDIR and SYSCONFDIR: the
# programs, unit, sysusers.d and tmpfiles.d entries, catalog and man pages; the configuration and the logrotate
# snippet only while they equal the examples (an edited one is the operator's and is kept,
# with a line saying so), then /etc/smtpmon if that leaves it empty. The smtpmon user and
# the output files under /var/log/smtpmon stay (as a package's remove, not purge, would).
# Without DESTDIR a running service is stopped and disabled first, then the catalog and
# systemd are told.
INSTALLED := $(DESTDIR)$(SBINDIR)/smtpmon $(DESTDIR)$(SBINDIR)/smtpmonctl \
	$(DESTDIR)$(UNITDIR)/smtpmon.service $(DESTDIR)$(SYSUSERSDIR)/smtpmon.conf \
	$(DESTDIR)$(TMPFILESDIR)/smtpmon.conf \
	$(DESTDIR)$(CATALOGDIR)/smtpmon.catalog $(DESTDIR)$(MANDIR)/man8/smtpmon.8 \
	$(DESTDIR)$(MANDIR)/man8/smtpmonctl.8 $(DESTDIR)$(MANDIR)/man5/smtpmon.conf.5

.PHONY: uninstall
uninstall:
ifeq ($(DESTDIR),)
	$(Q)if [ -d /run/systemd/system ] && systemctl cat smtpmon.service >/dev/null 2>&1; then \
		systemctl disable --now smtpmon.service; fi
endif
	$(Q)rm -f $(INSTALLED)
	$(Q)for f in $(CONF):etc/smtpmon.conf $(LOGROTATE):etc/smtpmon.logrotate; do \
		dst=$${f%%:*}; src=$${f#*:}; \
		if [ ! -e "$$dst" ]; then :; \
		elif cmp -s "$$dst" "$$src"; then rm -f "$$dst"; \
		else echo "  kept     $$dst (changed since install)"; fi; \
	done
	$(Q)if [ -d $(DESTDIR)$(SYSCONFDIR)/smtpmon ]; then \
		rmdir --ignore-fail-on-non-empty $(DESTDIR)$(SYSCONFDIR)/smtpmon; fi
ifeq ($(DESTDIR),)
	$(Q)if command -v journalctl >/dev/null; then journalctl --update-catalog; fi
	$(Q)if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
endif

format:
	$(Q)clang-format -i user/*.c user/*/*.c user/*/*.h bpf/*.c bpf/*.h tests/unit/*.c tests/fuzz/*.c 2>/dev/null || true

clean:
	$(Q)rm -rf build
