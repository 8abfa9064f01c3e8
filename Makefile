# modmig - the two commands a newcomer needs: `make test` and `make demo`.
# Both install missing Debian packages (as root), configure, build and run.

BUILD ?= build
MESON_OPTS ?=
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

# The whole suite against a throwaway PostgreSQL; the last line is "N passed, N failed".
test: build
	@rc=0; tests/pgtmp.sh -- meson test -C $(BUILD) --print-errorlogs --num-processes 2 || rc=$$?; \
	  tests/summary.sh $(BUILD); exit $$rc

demo: build
	@tests/pgtmp.sh -- tests/demo.sh $(BUILD)

format:
	clang-format -i include/*.h runner/lib/*/*.[ch] runner/cli/*.[ch] tools/*.c tests/*.c tests/unit/*.c tests/fuzz/*.c

fuzz:
	@CC=clang tests/configure.sh build-fuzz -Dfuzz=true -Db_lundef=false
	@ninja -C build-fuzz

clean:
	rm -rf $(BUILD) build-fuzz build-asan
