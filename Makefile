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

.PHONY: all build listen dial test test-netns bench clean
all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/peerchat

# ---- certificates (scripts/gen-certs.sh, see certs/README.md) --------------
#   make certs                              local CA + $(PEERS) in certs/
#   make certs PEERS=carol HOSTS="192.0.2.7 chat.example"
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

# ---- chatting on one machine -----------------------------------------------
listen: build certs/alice.crt
	$(BIN) listen --name alice --addr $(ADDR)

dial: build certs/bob.crt
	$(BIN) dial --name bob $(HOST)

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

# Round-trip latency of peerchat beside bare crypto/tls, and their ratio.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20000x -count 3 ./...

clean:
	rm -rf bin dist
