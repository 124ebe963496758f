# peerchat — see README.md.
#   make listen        (terminal 1)  chat as alice, waiting for a peer
#   make dial          (terminal 2)  chat as bob, dialing localhost
#   make test          every test (go vet + go test -race)
#   make test-netns    peerchat between two hosts (network namespaces; root)

GO      ?= go
BIN     := bin/peerchat
ADDR    ?= :7443
HOST    ?= localhost
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)

.PHONY: all build listen dial test test-netns bench bench-reconnect clean release release-check cross
all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/peerchat

# ---- certificates (scripts/gen-certs.sh, see certs/README.md) --------------
#   make certs                              local CA + $(PEERS) in certs/
#   make certs PEERS=carol HOSTS="192.0.2.7 chat.example"
#   make certs PEERS=carol HOSTS="$(hostname)"  (this machine's name is never
#                                               added unless given)
# Existing files are kept, and the CA is never replaced. To replace a peer's
# key and certificate: scripts/gen-certs.sh -f NAME (add -H "..." again).

PEERS ?= alice bob
HOSTS ?=
GEN_CERTS = scripts/gen-certs.sh -d certs$(if $(HOSTS), -H "$(HOSTS)")
PEER_CERTS = $(PEERS:%=certs/%.crt)

# certs is also a directory, so it must be phony, or make would call it done.
.PHONY: certs
certs:
	$(GEN_CERTS) $(PEERS)

# A missing certificate is issued; an existing one is never out of date
# because it has no prerequisites. With make -j the script's lock
# serialises the runs, so only one CA is created.
certs/%.crt:
	$(GEN_CERTS) $*

# ---- certificates for two machines: keys never travel ------------------------
#   bob's machine:  make cert-request NAME=bob        (certs/bob.key + bob.csr,
#                                                      and the key's fingerprint)
#   CA machine:     make cert-sign CSR=bob.csr FP=<the fingerprint bob reads you>
#                   HOSTS="192.0.2.7"
# Without FP, cert-sign shows the fingerprint and asks before signing.

cert-request:
	@test -n "$(NAME)" || { echo 'usage: make cert-request NAME=bob' >&2; exit 2; }
	scripts/gen-certs.sh -d certs request $(NAME)

cert-sign:
	@test -n "$(CSR)" || { echo 'usage: make cert-sign CSR=bob.csr [FP=AB:CD:...] [HOSTS="192.0.2.7 bob.example"]' >&2; exit 2; }
	scripts/gen-certs.sh -d certs -H "$(HOSTS)"$(if $(FP), -F "$(FP)") sign $(CSR)

cert-revoke:
	@test -n "$(NAME)" || { echo 'usage: make cert-revoke NAME=bob' >&2; exit 2; }
	scripts/gen-certs.sh -d certs revoke $(NAME)

cert-crl:
	scripts/gen-certs.sh -d certs crl

.PHONY: cert-request cert-sign cert-revoke cert-crl

# ---- chatting on one machine -----------------------------------------------
# The checkout's certs/, named explicitly: peerchat's own default is the
# certs dir in the user's config directory.
listen: build certs/alice.crt
	$(BIN) listen --certs-dir certs --name alice --addr $(ADDR)

dial: build certs/bob.crt
	$(BIN) dial --certs-dir certs --name bob $(HOST)

# ---- checks ----------------------------------------------------------------
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# Two hosts on one machine: network namespaces joined by a veth pair, the
# real binary listening in one and dialing from the other, over IPv4 and
# IPv6 (scripts/netns-test.sh). Needs root, iproute2, openssl and nftables;
# where one is missing it says SKIP and why.
test-netns: build
	scripts/netns-test.sh

# Round-trip latency of peerchat beside bare crypto/tls and their ratio;
# the chat screen's render path beside writing the same bytes directly;
# queue memory per 10,000 pending messages. Each benchmark gets an
# iteration count that fits what one iteration costs.
# (make bench-reconnect measures reconnection after 1s/5s/20s outages:
# about two minutes.)
bench:
	$(GO) test -run '^$$' -bench 'RoundTrip' -benchtime 50000x -count 3 ./peer/
	$(GO) test -run '^$$' -bench 'QueueMemory' -benchtime 3x ./peer/
# 1 GiB file sent through peerchat beside bare crypto/tls io.Copy over
# loopback, each side in a process of its own: MiB/s of both and their
# ratio, CPU seconds per GiB and peak heap and RSS of each side (about 10 s).
	$(GO) test -run '^$$' -bench 'SendFileVsTLS' -benchtime 1x -count 3 ./peer/
# A message's round trip idle and while a file goes the same way, over
# loopback and through a 20 MB/s link (p50, p99; about 10 s).
	$(GO) test -run '^$$' -bench 'MessageDuringTransfer' -benchtime 1x -count 2 ./peer/
	$(GO) test -run '^$$' -bench . -count 3 ./cmd/peerchat/

bench-reconnect:
	$(GO) test -run '^$$' -bench 'ReconnectAfterOutage' -benchtime 3x -timeout 30m ./peer/

# ---- fuzzing ---------------------------------------------------------------
# Every fuzz target in FUZZPKG for FUZZTIME each, one after the other (go
# test fuzzes one target at a time). New interesting inputs stay in GOCACHE;
# a crasher is written to peer/testdata/fuzz/<target>/ and fails the run.
# Minimising a new input is capped at FUZZMINTIME: at go's default (60s) a
# single minimisation can take a whole short run.
FUZZTIME    ?= 10s
FUZZMINTIME ?= 2s
FUZZPKG     ?= ./peer/

.PHONY: fuzz
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" as -fuzztime runs out, having found nothing (a race
# fixed in Go 1.27, go.dev/issue/75804). A real crash always writes its
# input under testdata/fuzz/<target>/; so a run that fails with that line
# alone and writes nothing is run once more, and only a second such
# failure, or any other, fails.
fuzz:
	@targets=$$($(GO) test -list '^Fuzz' $(FUZZPKG) | grep '^Fuzz') || { echo "fuzz: no fuzz targets in $(FUZZPKG); does it build?" >&2; exit 1; }; \
	log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for t in $$targets; do \
		for try in 1 2; do \
			echo "fuzz: $$t for $(FUZZTIME)"; \
			before=$$(find $(FUZZPKG)testdata/fuzz -type f 2>/dev/null | wc -l); \
			rc=0; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $(FUZZPKG) >"$$log" 2>&1 || rc=$$?; \
			cat "$$log"; \
			if [ $$rc = 0 ]; then break; fi; \
			after=$$(find $(FUZZPKG)testdata/fuzz -type f 2>/dev/null | wc -l); \
			if [ $$try = 1 ] && [ "$$before" = "$$after" ] && grep -q '^    context deadline exceeded$$' "$$log" && ! grep -q 'Failing input written' "$$log"; then \
				echo "fuzz: $$t: Go's fuzz coordinator stopped on its own deadline with no failing input (go.dev/issue/75804); running it again"; \
				continue; \
			fi; \
			exit 1; \
		done; \
	done

# ---- platforms -------------------------------------------------------------
# Cross-compile and vet every release target, so a Unix-only call in shared
# code fails here and not on a user's machine.
CROSS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
cross:
	@for t in $(CROSS); do \
		echo "cross: $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) vet ./... || exit 1; \
		GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/peerchat || exit 1; \
	done

# Reproducible archives for every target in dist/, with SHA256SUMS.
release:
	$(GO) run ./scripts/release -out dist -version $(VERSION)

# Two releases of the same commit must be byte-identical.
release-check:
	rm -rf dist/check-a dist/check-b
	$(GO) run ./scripts/release -out dist/check-a -version $(VERSION)
	$(GO) run ./scripts/release -out dist/check-b -version $(VERSION)
	cmp dist/check-a/SHA256SUMS dist/check-b/SHA256SUMS
	@echo "release-check: two builds gave identical archives"; cat dist/check-a/SHA256SUMS

clean:
	rm -rf bin dist
