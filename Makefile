# multid - a multi-service network daemon.
#
#   make run     install missing build dependencies, build, run conf/multid.conf
#                (CONF=conf/course.conf: the course's programs, as root)
#   make check   the same set-up, then unit and integration tests
#   make install PREFIX=/usr DESTDIR=...

SHELL    = /bin/bash
VERSION  = 0.1.0
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
PYTHON  ?= /usr/bin/python3

# Libraries found through pkg-config, and the Debian packages that have them.
PC_LIBS  = libconfig libsystemd sqlite3 libcrypt openssl libarchive libpq hiredis
PC_DEBS  = libconfig:libconfig-dev libsystemd:libsystemd-dev \
           sqlite3:libsqlite3-dev libcrypt:libcrypt-dev check:check \
           openssl:libssl-dev libarchive:libarchive-dev libpq:libpq-dev \
           hiredis:libhiredis-dev
# Programs the tests and `make run` use, and their Debian packages.
TOOL_DEBS = gcc:gcc make:make pkg-config:pkg-config nc:netcat-openbsd \
            curl:curl logger:bsdutils telnet:telnet tmux:tmux \
            openssl:openssl tftp:tftp-hpa atftp:atftp ii:ii irssi:irssi \
            swaks:swaks bzip2:bzip2 xz:xz-utils zstd:zstd

ifdef SANITIZE
BUILD   ?= build-sanitize
SANFLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD   ?= build
SANFLAGS =
endif

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += $(EXTRA_CFLAGS) -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -DMULTID_VERSION='"$(VERSION)"' \
           $(SANFLAGS) $(shell pkg-config --cflags $(PC_LIBS) 2>/dev/null)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(shell pkg-config --libs $(PC_LIBS) 2>/dev/null) -lpthread -lm

# ev_epoll.c is included by ev.c, as redis includes ae_epoll.c.
CORE_SRC = $(filter-out src/main.c src/ev_epoll.c,$(wildcard src/*.c)) \
           $(wildcard src/services/*.c src/services/*/*.c)
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/check_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 30

.PHONY: all deps deps-test run check unit integration install clean bench fuzz fuzz-build \
        fuzz-deps check-sanitize

all: $(BUILD)/multid

$(BUILD)/%.o: %.c $(wildcard src/*.h src/services/*.h src/services/*/*.h) | deps-checked
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/src/ev.o: src/ev_epoll.c

$(BUILD)/multid: $(BUILD)/src/main.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/check_%: tests/unit/check_%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(shell pkg-config --cflags check) $(LDFLAGS) -o $@ \
	    $^ $(LDLIBS) $(shell pkg-config --libs check)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets, each run FUZZ_SECONDS from its seed corpus; new
# inputs go to build-fuzz/corpus, the seeds in tests/fuzz/corpus stay.
fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build BUILD=build-fuzz CC=clang \
	    SANITIZE=address,undefined EXTRA_CFLAGS=-fsanitize=fuzzer-no-link
	@set -e; for t in $(FUZZ_SRC:tests/fuzz/%.c=%); do \
	    mkdir -p build-fuzz/corpus/$$t tests/fuzz/corpus/$$t; \
	    echo "== $$t ($(FUZZ_SECONDS) s)"; \
	    LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	    build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -rss_limit_mb=2048 -print_final_stats=0 -artifact_prefix=build-fuzz/ \
	        build-fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | tail -n 3; \
	    test $${PIPESTATUS[0]} -eq 0; \
	done

fuzz-build: $(FUZZ_BIN)

fuzz-deps:
	@command -v clang >/dev/null 2>&1 && echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' \
	    | clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" != 0 ]; then echo "fuzzing needs clang and libclang-rt-14-dev (run make fuzz-deps as root)" >&2; exit 1; fi; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev; }

# Installs what pkg-config or PATH cannot find; apt-get only when needed.
deps:
	@missing=""; \
	for pair in $(TOOL_DEBS); do \
	    command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if command -v pkg-config >/dev/null 2>&1; then \
	    for pair in $(PC_DEBS); do \
	        pkg-config --exists $${pair%%:*} || missing="$$missing $${pair#*:}"; \
	    done; \
	else \
	    for pair in $(PC_DEBS); do missing="$$missing $${pair#*:}"; done; \
	fi; \
	$(PYTHON) -c 'import pytest' >/dev/null 2>&1 || missing="$$missing python3-pytest"; \
	[ -r /etc/mime.types ] || missing="$$missing media-types"; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "missing:$$missing - run 'make deps' as root, or: apt-get install$$missing" >&2; \
	        exit 1; \
	    fi; \
	    echo "installing:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# Clients and components only the tests use: make check installs them
# too (a real browser for the file browser, testssl.sh for TLS, WeeChat's
# headless build as a third IRC client, HexChat on an Xvfb display with
# its Python plugin loader as a fourth, the
# engines several instances share: PostgreSQL, Redis, rsyslog, HAProxy).
# A command, or an absolute path that must exist, and its package.
DEB_MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
TEST_DEBS = chromium:chromium testssl:testssl.sh ncat:ncat wget:wget \
            weechat-headless:weechat-headless \
            hexchat:hexchat Xvfb:xvfb \
            /usr/lib/$(DEB_MULTIARCH)/hexchat/plugins/python.so:hexchat-python3 \
            /usr/lib/postgresql/15/bin/postgres:postgresql-15 \
            redis-server:redis-server rsyslogd:rsyslog haproxy:haproxy
deps-test:
	@missing=""; \
	for pair in $(TEST_DEBS); do \
	    what=$${pair%%:*}; \
	    case $$what in \
	    /*) [ -e "$$what" ] ;; \
	    *) PATH="$$PATH:/usr/sbin:/sbin" command -v $$what >/dev/null 2>&1 ;; \
	    esac || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "missing:$$missing - run 'make deps-test' as root, or: apt-get install$$missing" >&2; \
	        exit 1; \
	    fi; \
	    echo "installing:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# Order-only: the first build in a tree runs deps once.
deps-checked:
	@$(MAKE) --no-print-directory deps

CONF ?= conf/multid.conf
run: deps
	@$(MAKE) --no-print-directory all
	@sh conf/connect-help.sh $(CONF)
	exec $(BUILD)/multid -c $(CONF)

check: deps deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@$(MAKE) --no-print-directory unit integration

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; \
	    LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) CK_FORK=yes $$t; done

integration: $(BUILD)/multid
	MULTID_BIN=$(abspath $(BUILD)/multid) MULTID_SANITIZE=$(SANITIZE) \
	    LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	    $(PYTHON) -m pytest -q -rs -p no:cacheprovider tests/integration $(PYTEST_ARGS)

# The whole suite again, built with ASan and UBSan into build-sanitize/:
# every unit test and daemon runs with leak detection, and an integration
# test fails on any sanitizer report in the daemon's stderr.
check-sanitize: deps
	@$(MAKE) --no-print-directory check SANITIZE=address,undefined OPT=-O1

# The valgrind pass alone (make check runs it too): memcheck over a daemon
# with every service (tests/integration/test_valgrind.py).
.PHONY: check-valgrind
check-valgrind: deps
	@command -v valgrind >/dev/null 2>&1 || { \
	    if [ "$$(id -u)" != 0 ]; then echo "check-valgrind needs valgrind (as root: apt-get install valgrind)" >&2; exit 1; fi; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind; }
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory integration SANITIZE= \
	    PYTEST_ARGS="-k test_valgrind"

# Installs the daemon, its units, man pages and sysusers.d entry, and the
# production configuration unless one exists already.  With DESTDIR the
# tree is only staged (for a package); without it the system user multid
# is created (systemd-sysusers) and systemd re-reads its units.
SYSUSERSDIR ?= /usr/lib/sysusers.d
DOCDIR      ?= $(PREFIX)/share/doc/multid
WWWROOT     ?= /srv/www

.PHONY: uninstall

install: $(BUILD)/multid
	install -D -m 0755 $(BUILD)/multid $(DESTDIR)$(SBINDIR)/multid
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/multid $(DESTDIR)$(WWWROOT)
	sed -e 's|/usr/sbin/multid|$(SBINDIR)/multid|g' \
	    -e 's|/etc/multid/|$(SYSCONFDIR)/multid/|g' \
	    systemd/multid.service > $(DESTDIR)$(UNITDIR)/multid.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/multid.service
	install -m 0644 systemd/multid.socket $(DESTDIR)$(UNITDIR)/multid.socket
	install -m 0644 systemd/multid.sysusers $(DESTDIR)$(SYSUSERSDIR)/multid.conf
	gzip -9n < man/multid.8 > $(DESTDIR)$(MANDIR)/man8/multid.8.gz
	gzip -9n < man/multid.conf.5 > $(DESTDIR)$(MANDIR)/man5/multid.conf.5.gz
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/multid.8.gz \
	    $(DESTDIR)$(MANDIR)/man5/multid.conf.5.gz
	install -m 0644 conf/multid.conf.example $(DESTDIR)$(DOCDIR)/multid.conf.example
	@conf=$(DESTDIR)$(SYSCONFDIR)/multid/multid.conf; \
	if [ -e $$conf ]; then \
	    echo "keeping $$conf (the example is $(DOCDIR)/multid.conf.example)"; \
	else \
	    echo "install -m 0644 conf/multid.conf.example $$conf"; \
	    install -m 0644 conf/multid.conf.example $$conf; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
	    if command -v systemd-sysusers >/dev/null 2>&1; then \
	        echo "systemd-sysusers $(SYSUSERSDIR)/multid.conf"; \
	        systemd-sysusers $(SYSUSERSDIR)/multid.conf; \
	    fi; \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

# Removes what install put in place, except the configuration when it was
# edited, and the state in /var/lib/multid (the bank's accounts).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/multid $(DESTDIR)$(UNITDIR)/multid.service \
	    $(DESTDIR)$(UNITDIR)/multid.socket $(DESTDIR)$(SYSUSERSDIR)/multid.conf \
	    $(DESTDIR)$(MANDIR)/man8/multid.8.gz \
	    $(DESTDIR)$(MANDIR)/man5/multid.conf.5.gz \
	    $(DESTDIR)$(DOCDIR)/multid.conf.example
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@conf=$(DESTDIR)$(SYSCONFDIR)/multid/multid.conf; \
	if cmp -s conf/multid.conf.example $$conf; then \
	    rm -f $$conf; rmdir $(DESTDIR)$(SYSCONFDIR)/multid 2>/dev/null || true; \
	elif [ -e $$conf ]; then echo "keeping $$conf: it was edited"; fi

clean:
	rm -rf build build-sanitize build-fuzz

# Peers the benchmarks compare against; `make bench` skips a missing one.
bench-deps:
	@missing=""; \
	for pair in xinetd:xinetd nginx:nginx ncat:ncat rsyslogd:rsyslog wrk:wrk \
	    ngircd:ngircd smtp-source:postfix dovecot:dovecot-pop3d pgbench:postgresql-client-15; do \
	    PATH="$$PATH:/usr/sbin:/sbin" command -v $${pair%%:*} >/dev/null 2>&1 || \
	        missing="$$missing $${pair#*:}"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	    echo "bench-deps: missing:$$missing - as root: make bench-deps" >&2; \
	    exit 1; \
	fi; \
	echo "installing:$$missing"; \
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing
	@# tftpd-hpa and atftpd conflict as packages, and installed they would be
	@# system servers on port 69: both are unpacked into build/bench/tftp-peers
	@# instead, where tests/bench/tftp.sh runs them in the foreground.
	@peers=build/bench/tftp-peers; \
	[ -x $$peers/usr/sbin/in.tftpd ] && [ -x $$peers/usr/sbin/atftpd ] && exit 0; \
	echo "unpacking tftpd-hpa and atftpd into $$peers"; \
	mkdir -p $$peers && cd $$peers && rm -f ./*.deb && \
	apt-get download -q tftpd-hpa atftpd && \
	for deb in ./*.deb; do dpkg -x $$deb . || exit 1; done && rm -f ./*.deb

# Load generators with -O2 into build/bench, then tests/bench/run.sh.
# BENCH_ARGS go to run.sh (e.g. BENCH_ARGS="--runs 5 --only echo").
bench: all
	@$(MAKE) --no-print-directory bench-deps || \
	    echo "bench: some peers are missing; their rows are skipped"
	@mkdir -p build/bench; \
	for src in tests/bench/*.c; do \
	    bin=build/bench/$$(basename $$src .c); \
	    [ $$bin -nt $$src ] && [ $$bin -nt tests/bench/bench.h ] && continue; \
	    echo "cc -O2 $$src"; \
	    $(CC) -O2 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -o $$bin $$src \
	        -lpthread -lm || { rm -f $$bin; \
	        case $$src in */bank_bench.c|*/log_bench.c) \
	            echo "bench: $$src does not build; its rows are skipped";; \
	        *) exit 1;; esac; }; \
	done
	MULTID=$(abspath $(BUILD)/multid) bash tests/bench/run.sh $(BENCH_ARGS)
