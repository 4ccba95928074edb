# The two commands a new user needs (README): `make demo` and `make test`. Both install what is
# missing (scripts/bootstrap) and build first.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap configure build demo test bench tsan fuzz soak clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja:
	@$(MAKE) --no-print-directory bootstrap
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: $(BUILD_DIR)/build.ninja

build: bootstrap configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(BUILD_DIR)/src/app/orderly demo

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Only what the benchmarks run (about half of `build`: no test binaries).
BENCH_TARGETS = orderly core_bench engine_bench store_bench store_pg_bench inprocess_bench \
	sim_server_bench
bench: bootstrap configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(BENCH_TARGETS)
	scripts/bench --build-dir $(BUILD_DIR)

# Checks beyond `make test` (README "Checking builds"), each in its own build folder.
tsan: bootstrap
	scripts/tsan build-tsan

fuzz: bootstrap
	scripts/fuzz 60

soak: build
	scripts/soak --minutes 30 --bin $(BUILD_DIR)/src/app/orderly

clean:
	rm -rf $(BUILD_DIR)
