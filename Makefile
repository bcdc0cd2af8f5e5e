# Thin wrapper around CMake. `make run` and `make test` are the two commands a new user needs.
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
PORT       ?= 5555
DATA       ?= ./var
CMAKE_FLAGS ?=

.PHONY: all deps build asan run test test-release test-asan bench examples install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

$(BUILD_ASAN)/Makefile:
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DAW_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null

asan: deps $(BUILD_ASAN)/Makefile
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

# Build and run the daemon on http://localhost:$(PORT) with data under $(DATA).
run: build
	@mkdir -p $(DATA)
	$(BUILD)/actingwebd --host 127.0.0.1 --port $(PORT) --fqdn localhost:$(PORT) --data $(DATA)

# The whole test suite: unit + protocol tests, on a normal build and under ASan+UBSan.
test: test-release test-asan

test-release: build
	@cd $(BUILD) && ctest --output-on-failure -j 2

test-asan: asan
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j 2

bench: build
	@bench/http.sh

examples: build
	@cmake --build $(BUILD) --target examples -j $(JOBS)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
