# aiokit: Go bindings to liburing, libaio and glibc's POSIX AIO.
#
#   make            build every package, the cmd/ tools and the C programs
#   make deps       install the C headers (Debian/Ubuntu, as root) or say how
#   make check      vet, race-enabled tests (C cross-checks included)
#   make bench      side-by-side benchmark against the C libraries
#   make demo       probe this machine, then a short benchmark
#   make install    PREFIX=/usr/local DESTDIR= (binaries, C bench programs, Go sources, docs)
#   make dist       reproducible source tarball aiokit-$(VERSION).tar.gz
#
# Honoured: GO, GOFLAGS, CC, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX, DESTDIR (and
# BINDIR, LIBEXECDIR, GOSRCDIR, DOCDIR under PREFIX), BENCH_TAGS.

VERSION    := 0.1.0
MODULE     := github.com/aiokit/aio

GO         ?= go
CFLAGS     ?= -O2 -g
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/aiokit
GOSRCDIR   ?= $(PREFIX)/share/gocode/src/$(MODULE)
DOCDIR     ?= $(PREFIX)/share/doc/aiokit
INSTALL    ?= install
TESTFLAGS  ?= -race -timeout 12m
BENCHFLAGS ?=

# gcc unless CC is given (command line, environment): `CC ?= gcc` would never
# apply, make's built-in default CC=cc counts as set.
ifeq ($(origin CC),default)
CC := gcc
endif

# go build stamps the binaries with the checkout's git state, and fails when
# git refuses a checkout of another user ("dubious ownership": sudo make
# install with nothing built yet): there, no stamp.
ifneq ($(shell [ -e .git ] && [ ! -O .git ] && echo foreign),)
override GOFLAGS += -buildvcs=false
endif

# cgo sees the same flags as the C programs.
export CC
export CGO_ENABLED := 1
export CGO_CFLAGS  ?= $(CFLAGS) $(CPPFLAGS)
export CGO_LDFLAGS ?= $(LDFLAGS)

# aiobench's build tags: iceber adds the github.com/iceber/iouring-go engines
# (a benchmark peer, nothing else needs that module); BENCH_TAGS= builds
# aiobench without them, e.g. where that module is not packaged.
BENCH_TAGS ?= iceber
# iceber/iouring-go links on Go 1.23+ only with -checklinkname=0, a flag Go
# 1.22's linker does not know (nor needs). aiobench's -tags and -ldflags add
# to those in GOFLAGS (go takes the last -tags and -ldflags given, so a second
# one would drop GOFLAGS'). Deferred (=): `go env` runs only when aiobench is
# built.
comma := ,
empty :=
space := $(empty) $(empty)
CHECKLINKNAME = $(if $(filter iceber,$(subst $(comma), ,$(AIOBENCH_TAGS))),$(shell \
  case "$$($(GO) env GOVERSION 2>/dev/null)" in \
  (go1.2[3-9]*|go1.[3-9][0-9]*|devel*) echo -checklinkname=0;; esac))
GOFLAGS_TAGS    = $(subst $(comma), ,$(patsubst -tags=%,%,$(lastword $(filter -tags=%,$(GOFLAGS)))))
GOFLAGS_LDFLAGS = $(patsubst -ldflags=%,%,$(lastword $(filter -ldflags=%,$(GOFLAGS))))
AIOBENCH_TAGS   = $(subst $(space),$(comma),$(strip $(GOFLAGS_TAGS) $(subst $(comma), ,$(BENCH_TAGS))))
AIOBENCH_LDFLAGS = $(strip $(GOFLAGS_LDFLAGS) $(CHECKLINKNAME))
AIOBENCH_FLAGS  = $(filter-out -tags=% -ldflags=%,$(GOFLAGS)) \
  $(if $(AIOBENCH_TAGS),-tags=$(AIOBENCH_TAGS)) $(if $(AIOBENCH_LDFLAGS),'-ldflags=$(AIOBENCH_LDFLAGS)')

URING_LIBS := $(shell $(PKG_CONFIG) --cflags --libs liburing 2>/dev/null || echo -luring)
CSRCS      := $(wildcard testdata/c/*.c)
CHDRS      := $(wildcard testdata/c/*.h)
CPROGS     := $(patsubst testdata/c/%.c,build/c/%,$(CSRCS))
BENCH_CPROGS := $(filter build/c/bench_%,$(CPROGS))
CMDS       := $(notdir $(wildcard cmd/*))
BINS       := $(addprefix build/bin/,$(CMDS))

# Link flags by program name, the rule internal/xcheck.Flags uses too.
libs_for = $(strip \
  $(if $(filter uring% bench_uring%,$(1)),$(URING_LIBS)) \
  $(if $(filter libaio% bench_libaio%,$(1)),-laio) \
  $(if $(filter posixaio% bench_posixaio%,$(1)),-lrt -lpthread))

.PHONY: all build cprogs deps check vet test cgocheck bench demo install uninstall dist clean

all: build $(BINS) cprogs

build:
	$(GO) build $(GOFLAGS) ./...

cprogs: $(CPROGS)

build/c/%: testdata/c/%.c $(CHDRS)
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE -Wall -Werror=implicit-function-declaration -Itestdata/c $(CFLAGS) $(CPPFLAGS) -o $@ $< $(LDFLAGS) $(call libs_for,$*)

build/bin/aiobench: FORCE
	@mkdir -p build/bin
	$(GO) build $(AIOBENCH_FLAGS) -o $@ ./cmd/aiobench

build/bin/%: FORCE
	@mkdir -p build/bin
	$(GO) build $(GOFLAGS) -o $@ ./cmd/$*

.PHONY: FORCE
FORCE:

HEADERS := liburing.h libaio.h aio.h
deps:
	@missing=""; \
	for h in $(HEADERS); do \
	  printf '#include <%s>\n' $$h | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing $$h"; \
	done; \
	command -v $(PKG_CONFIG) >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	if [ -z "$$missing" ]; then echo "deps: C headers present (liburing.h libaio.h aio.h)"; exit 0; fi; \
	echo "deps: missing:$$missing"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq liburing-dev libaio-dev pkg-config gcc libc6-dev; \
	else \
	  echo "deps: run as root: apt-get install liburing-dev libaio-dev pkg-config gcc libc6-dev"; \
	  echo "      (Fedora: dnf install liburing-devel libaio-devel pkgconf gcc glibc-devel)"; \
	  exit 1; \
	fi

# The gofmt of GO's own GOROOT (right also for a go1.22.12-style wrapper).
# Deferred (=): `go env` runs only for vet.
GOFMT ?= $(shell $(GO) env GOROOT 2>/dev/null)/bin/gofmt

# git, also for `sudo make ...` in a checkout owned by someone else (git
# refuses it otherwise: "dubious ownership").
GIT := git -c safe.directory="$(CURDIR)"

# The gate fails when gofmt cannot run (not found, parse errors), not only on
# unformatted files. The files: git's only where .git is here (an unpacked tarball inside another
# repository would get that one's list: none, and gofmt, given no file, reads
# stdin), else every .go but build/ and vendor/.
vet:
	@files="$$( { [ -e .git ] && $(GIT) ls-files '*.go' 2>/dev/null; } || \
	  find . -name '*.go' -not -path './build/*' -not -path './vendor/*')"; \
	  [ -n "$$files" ] || { echo "vet: no Go files found" >&2; exit 1; }; \
	  unformatted="$$($(GOFMT) -l $$files </dev/null)" || \
	  { echo "vet: gofmt failed ($(GOFMT)); set GOFMT=/path/to/gofmt" >&2; exit 1; }; \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(GOFLAGS) ./...
	$(if $(AIOBENCH_TAGS),$(GO) vet $(filter-out -tags=%,$(GOFLAGS)) -tags=$(AIOBENCH_TAGS) ./internal/bench/ ./cmd/aiobench/)

test: cprogs
	$(GO) test $(GOFLAGS) $(TESTFLAGS) ./...

# The packages that hand memory to C, once more with the cgo checker that
# faults on every Go pointer stored into C memory (GOEXPERIMENT=cgocheck2;
# it rebuilds the standard library once, about 30 s).
CGOCHECK_PKGS := ./cgo/... ./uring/ ./libaio/ ./posixaio/ ./internal/inline/ ./internal/fileio/ ./internal/bench/ ./cmd/aioprobe/
cgocheck: cprogs
	GOEXPERIMENT=cgocheck2 $(GO) test $(GOFLAGS) -count=1 $(CGOCHECK_PKGS)

# One step after the other, also under make -j: deps may install the headers
# the builds need, and two test runs at once make the timing tests flaky.
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory vet all
	@$(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory cgocheck

bench: cprogs build/bin/aiobench
	build/bin/aiobench -cbin build/c $(BENCHFLAGS)

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	build/bin/aioprobe
	build/bin/aiobench -cbin build/c -quick

# The source files, one a line, for install and dist. In a git checkout (a
# .git here) the tracked files; if git cannot list them this fails, rather
# than take untracked files. Without .git, every file but those matching
# NOT_SRC (a shell case pattern: build output, git's files, tarballs, test
# binaries), sorted.
NOT_SRC := build/*|.git|.git/*|*/.git|*/.git/*|*.tar.gz|*.test
list_sources = if [ -e .git ]; then $(GIT) ls-files; else \
  find . -type f | sed 's|^\./||' | LC_ALL=C sort | while IFS= read -r f; do \
    case $$f in ($(NOT_SRC)) ;; (*) printf '%s\n' "$$f";; esac; done; fi

# Each install directory must be absolute, without . or .. parts, so that
# "$(DESTDIR)$(dir)" stays inside DESTDIR (and rm -rf never gets "/" or "").
check_dirs = for d in "$(BINDIR)" "$(LIBEXECDIR)" "$(GOSRCDIR)" "$(DOCDIR)"; do \
  case "$$d/" in (/*[!/]*) ;; (*) echo "$@: not an absolute directory: '$$d'" >&2; exit 1;; esac; \
  case "$$d/" in (*/./*|*/../*) echo "$@: . or .. in '$$d'" >&2; exit 1;; esac; \
  done

# install copies what `make` built and builds only what is missing, so that
# `sudo make install` after a user's `make` needs neither go nor a compiler.
# The C bench programs go to LIBEXECDIR, where an installed aiobench looks
# (../libexec/aiokit from its own directory) when not given -cbin or
# $AIOKIT_CBIN. The Go sources are the list_sources files but .ci/ and .git*;
# the docs are README.md, LICENSE and those under docs/. Files 0644 and
# directories 0755 whatever the umask.
install:
	@$(check_dirs)
	@$(list_sources) >/dev/null || { echo "install: git cannot list the tracked files of $(CURDIR)" >&2; exit 1; }
	@for f in $(BINS) $(BENCH_CPROGS); do \
	  [ -x $$f ] || $(MAKE) --no-print-directory $$f || exit 1; \
	done
	$(INSTALL) -d -m 0755 "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(LIBEXECDIR)" "$(DESTDIR)$(GOSRCDIR)" "$(DESTDIR)$(DOCDIR)"
	for b in $(BINS); do $(INSTALL) -m 0755 $$b "$(DESTDIR)$(BINDIR)/" || exit 1; done
	for c in $(BENCH_CPROGS); do $(INSTALL) -m 0755 $$c "$(DESTDIR)$(LIBEXECDIR)/" || exit 1; done
	$(INSTALL) -m 0644 README.md LICENSE "$(DESTDIR)$(DOCDIR)/"
	@echo "install: the sources to $(DESTDIR)$(GOSRCDIR), docs/ to $(DESTDIR)$(DOCDIR)"
	@files="$$($(list_sources))" || exit 1; \
	printf '%s\n' "$$files" | while IFS= read -r f; do \
	  case $$f in (''|$(NOT_SRC)|.ci/*|.git*|*/.git*) continue;; esac; \
	  $(INSTALL) -D -m 0644 "$$f" "$(DESTDIR)$(GOSRCDIR)/$$f" || exit 1; \
	  case $$f in (docs/*) $(INSTALL) -D -m 0644 "$$f" "$(DESTDIR)$(DOCDIR)/$$f" || exit 1;; esac; \
	done

uninstall:
	@$(check_dirs)
	for b in $(CMDS); do rm -f "$(DESTDIR)$(BINDIR)/$$b"; done
	for c in $(notdir $(BENCH_CPROGS)); do rm -f "$(DESTDIR)$(LIBEXECDIR)/$$c"; done
	rmdir "$(DESTDIR)$(LIBEXECDIR)" 2>/dev/null || true
	rm -rf "$(DESTDIR)$(GOSRCDIR)" "$(DESTDIR)$(DOCDIR)"
	rmdir "$$(dirname "$(DESTDIR)$(GOSRCDIR)")" 2>/dev/null || true

# Reproducible: from a git checkout (a .git here), `git archive` of HEAD (names
# sorted, mtimes the commit's, modes 0644/0755 whatever tar.umask says);
# elsewhere, the list_sources files with sorted names, fixed owner, modes and
# mtime SOURCE_DATE_EPOCH. gzip -n leaves out the timestamp.
SOURCE_DATE_EPOCH ?= $(shell [ -e .git ] && $(GIT) log -1 --format=%ct 2>/dev/null || echo 0)
DISTNAME := aiokit-$(VERSION)
dist:
	@set -e; tar="build/$(DISTNAME).tar"; mkdir -p build; rm -rf build/dist "$$tar"; \
	if [ -e .git ]; then \
	  $(GIT) diff --quiet HEAD -- 2>/dev/null || \
	    echo "dist: warning: uncommitted changes are not in the tarball (it is git archive HEAD)" >&2; \
	  $(GIT) -c tar.umask=0022 archive --format=tar --prefix="$(DISTNAME)/" -o "$$tar" HEAD; \
	else \
	  files="$$($(list_sources))"; \
	  printf '%s\n' "$$files" | while IFS= read -r f; do \
	    [ -n "$$f" ] || continue; \
	    mkdir -p "build/dist/$(DISTNAME)/$$(dirname "$$f")" && cp "$$f" "build/dist/$(DISTNAME)/$$f" || exit 1; done; \
	  tar --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner \
	    --mode='u+rwX,go+rX,go-w' -C build/dist -cf "$$tar" $(DISTNAME); \
	  rm -rf build/dist; \
	fi; \
	gzip -n -9 < "$$tar" > "$(DISTNAME).tar.gz"; rm -f "$$tar"
	@echo "dist: $(DISTNAME).tar.gz"

# Not `go clean -testcache`: that empties the user's whole Go test cache, not
# this project's (which go test invalidates itself when sources change).
clean:
	rm -rf build $(DISTNAME).tar.gz
