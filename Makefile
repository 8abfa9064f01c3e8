# modmig - the two commands a newcomer needs: `make test` and `make demo`.
# Both install missing Debian packages (as root), configure, build and run.

BUILD ?= build
MESON_OPTS ?=
PG_VERSIONS ?= 15
SUITES ?=
DEB_PACKAGES := build-essential pkg-config meson ninja-build libpq-dev libyaml-dev \
	libssl-dev libpg-query-dev libprotobuf-c-dev libcmocka-dev postgresql postgresql-client pgbouncer python3 valgrind

.PHONY: all deps build test demo clean format fuzz

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "modmig: missing Debian packages:$$missing (run make as root, or install them)" >&2; exit 1; fi; \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

build: deps
	@tests/configure.sh $(BUILD) $(MESON_OPTS)
	@ninja -C $(BUILD)

# The whole suite (or only the meson suites in SUITES, e.g. SUITES="online ops",
# without those in NO_SUITES)
# once per server version in PG_VERSIONS (tests/pg-versions.txt lists them;
# 15 is Debian's, the others are installed once from npm), each against its
# own throwaway PostgreSQL of that version. One summary line per version,
# then the total: the last line is "N passed, N failed".
test: build
	@rm -f $(BUILD)/meson-logs/testlog-pg*.json; rc=0; \
	for v in $(PG_VERSIONS); do \
	  echo "== make test: PostgreSQL $$v$(if $(SUITES), (suites: $(SUITES)))"; \
	  PGTMP_VERSION=$$v tests/pgtmp.sh -- meson test -C $(BUILD) --print-errorlogs --num-processes 2 \
	    --logbase testlog-pg$$v $(foreach s,$(SUITES),--suite $(s)) \
	    $(foreach s,$(NO_SUITES),--no-suite $(s)) || rc=$$?; \
	done; \
	tests/summary.sh $(BUILD) $(PG_VERSIONS) || rc=1; exit $$rc

demo: build
	@tests/pgtmp.sh -- tests/demo.sh $(BUILD)

format:
	clang-format -i include/*.h runner/lib/*/*.[ch] runner/lib/*/*/*.[ch] runner/cli/*.[ch] tools/*.c tests/*.c tests/unit/*.c tests/fuzz/*.c

fuzz:
	@CC=clang tests/configure.sh build-fuzz -Dfuzz=true -Db_lundef=false
	@ninja -C build-fuzz

clean:
	rm -rf $(BUILD) build-fuzz build-asan
