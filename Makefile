# vae - a dependency-free C11 VAE engine. One Makefile, no configure step.
#
#   make              libvae.a, its header core/vae.h and the vae program
#   make check        build and run the Check test suites
#   make check-asan   the Check suites under ASan and UBSan (in build-asan/)
#   make check-tsan   the threaded tests under ThreadSanitizer (in build-tsan/)
#   make fuzz         the libFuzzer harnesses, FUZZ_SECONDS each (clang)
#   make check-aarch64  the suites cross-built for aarch64 (NEON), run under qemu
#   make check-noavx  the suites under qemu on an x86-64 CPU without AVX
#   make demo         train on data/ for a few epochs, write sample pictures
#   make bench        run the benchmarks in bench/
#   make install      PREFIX=/usr/local DESTDIR= (make uninstall takes it back)
#   make static       vae-static, linked statically (make static CC=musl-gcc: musl)
#   make CC=clang     any C11 compiler; objects are rebuilt when CC changes

CC      ?= cc
CFLAGS  ?= -O2
WARN     = -std=c11 -Wall -Wextra -Werror
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Icore -Isimd -Iio
LDLIBS   = -lm -lpthread
AR      ?= ar
PREFIX  ?= /usr/local

BUILD    = build
# The library and the program; a sanitizer or cross build puts them elsewhere.
LIB      = libvae.a
PROG     = vae

# The target decides which ISA files are built; each gets its own flags, so
# the default build runs on any CPU of the architecture.
TARGET  := $(shell $(CC) -dumpmachine)
ifneq ($(filter x86_64%,$(TARGET)),)
ISA_SRC  = simd/avx2.c simd/avx512.c
endif
ifneq ($(filter aarch64%,$(TARGET)),)
ISA_SRC  = simd/neon.c
endif
CLI_SRC  = core/main.c $(wildcard core/cli_*.c)
LIB_SRC  = $(filter-out $(CLI_SRC),$(wildcard core/*.c)) simd/scalar.c simd/dispatch.c \
           $(ISA_SRC) $(wildcard io/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)

TEST_SRC = $(wildcard tests/check_*.c) tests/cli_util.c
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck_pic -lsubunit -lrt -lm)

BENCH    = bench/peak bench/gemm bench/kernels bench/train

.PHONY: all check demo bench bench-build bench-smoke install uninstall static clean
all: $(LIB) $(PROG)

# Objects depend on the compiler in use: the stamp changes when CC does.
$(BUILD)/cc.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) $(CPPFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(CPPFLAGS)' > $@
FORCE:

$(BUILD)/simd/avx2.o:   ISA_FLAGS = -mavx2 -mfma
$(BUILD)/simd/avx512.o: ISA_FLAGS = -mavx512f -mavx2 -mfma

$(BUILD)/%.o: %.c $(BUILD)/cc.stamp
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(ISA_FLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c $(BUILD)/cc.stamp
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
$(PROG): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

check: $(BUILD)/run_tests $(PROG) $(BUILD)/example_train
	VAE_TEST_PROG=$(abspath $(PROG)) $(BUILD)/run_tests
	$(BUILD)/example_train data $(BUILD)/example-samples.png 3000

# The library example: the public header alone (-Icore, -pedantic) and the
# library, as a user's program builds; `make check` runs it on 3,000 images.
$(BUILD)/example_train: tests/example_train.c core/vae.h $(LIB)
	$(CC) $(WARN) -pedantic $(CFLAGS) -Icore -o $@ $< $(LIB) $(LDLIBS)

# The whole Check suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (leaks included), built in build-asan/ with its own library and program so
# it never mixes with build/; the CLI tests run build-asan/vae. Any report
# fails the run. CK_TIMEOUT_MULTIPLIER gives the slower tests their time.
ASAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
.PHONY: check-asan fuzz fuzz-lib
check-asan:
	CK_TIMEOUT_MULTIPLIER=10 ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) BUILD=build-asan LIB=build-asan/libvae.a \
	    PROG=build-asan/vae CFLAGS="$(ASAN_FLAGS)" check

# The threaded tests (bit-identical training on 1, 2, 3 and 8 threads,
# resuming, and sgemm on every table with the pool running) under
# ThreadSanitizer, in build-tsan/. Any report fails the run.
TSAN_FLAGS = -O1 -g -fsanitize=thread
.PHONY: check-tsan
check-tsan:
	$(MAKE) BUILD=build-tsan LIB=build-tsan/libvae.a PROG=build-tsan/vae CFLAGS="$(TSAN_FLAGS)" \
	    build-tsan/run_tests build-tsan/vae
	CK_RUN_CASE=threads CK_TIMEOUT_MULTIPLIER=10 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	    VAE_THREADS=2 build-tsan/run_tests
	CK_RUN_SUITE=gemm CK_TIMEOUT_MULTIPLIER=10 TSAN_OPTIONS=halt_on_error=1 VAE_THREADS=3 build-tsan/run_tests

# libFuzzer harnesses (tests/fuzz/fuzz_*.c), built by clang in build-fuzz/
# against a library instrumented for coverage and the sanitizers. `make fuzz`
# runs each for FUZZ_SECONDS from the seeds in tests/fuzz/corpus/NAME, keeping
# what it finds in build-fuzz/corpus/NAME; a crash stops the run.
FUZZ_CC      = clang
FUZZ_SECONDS ?= 60
FUZZERS      = idx inflate pnm model
fuzz-lib:
	$(MAKE) CC=$(FUZZ_CC) BUILD=build-fuzz LIB=build-fuzz/libvae.a \
	    CFLAGS="$(ASAN_FLAGS) -fsanitize=fuzzer-no-link" build-fuzz/libvae.a

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c fuzz-lib
	$(FUZZ_CC) $(WARN) $(ASAN_FLAGS) -fsanitize=fuzzer $(CPPFLAGS) -o $@ $< build-fuzz/libvae.a $(LDLIBS)

fuzz: $(FUZZERS:%=build-fuzz/fuzz_%)
	@for f in $(FUZZERS); do \
	    mkdir -p build-fuzz/corpus/$$f; \
	    echo "== fuzz_$$f for $(FUZZ_SECONDS) s"; \
	    build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build-fuzz/corpus/$$f tests/fuzz/corpus/$$f || exit 1; \
	done

bench/%: bench/%.c libvae.a
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -o $@ $^ $(LDLIBS)

bench: $(BENCH)
	./bench/peak
	./bench/gemm
	./bench/kernels
	./bench/train

# The benchmarks built, and each run once briefly on the bundled data (CI:
# they compile warning-free and run to the end; the figures mean nothing).
bench-build: $(BENCH)

bench-smoke: $(BENCH)
	./bench/peak
	./bench/gemm --quick
	./bench/kernels --quick
	./bench/train --data data --epochs 1 --threads 1,2

DEMO_EPOCHS ?= 10
demo: vae
	./vae train --data data --epochs $(DEMO_EPOCHS) --out demo.model
	./vae sample --model demo.model --n 64 --out demo-samples.png
	./vae recon --model demo.model --data data --n 32 --out demo-recon.png

# The program, the library, its header, the manual page and a pkg-config
# file. The library is static only, so -lm -lpthread go in Libs: a plain
# `pkg-config --libs vae` links.
VERSION := $(shell sed -n 's/.*VAE_VERSION "\(.*\)".*/\1/p' core/vae.h)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 vae $(DESTDIR)$(PREFIX)/bin/vae
	install -m 644 libvae.a $(DESTDIR)$(PREFIX)/lib/libvae.a
	install -m 644 core/vae.h $(DESTDIR)$(PREFIX)/include/vae.h
	install -m 644 core/vae.1 $(DESTDIR)$(PREFIX)/share/man/man1/vae.1
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
	    'includedir=$${prefix}/include' '' 'Name: vae' \
	    'Description: Variational Autoencoders on the CPU, dependency-free C11' \
	    'Version: $(VERSION)' 'Libs: -L$${libdir} -lvae -lm -lpthread' 'Cflags: -I$${includedir}' \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vae.pc
	chmod 644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/vae.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vae $(DESTDIR)$(PREFIX)/lib/libvae.a \
	    $(DESTDIR)$(PREFIX)/include/vae.h $(DESTDIR)$(PREFIX)/share/man/man1/vae.1 \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/vae.pc

# vae-static: the program linked with -static, from its own objects in
# build-static/. Only the library and the program are built (not the tests),
# so a C library without Check will do: `make static CC=musl-gcc` (Debian's
# musl-tools) gives a musl build. The objects follow CC, as everywhere.
static:
	$(MAKE) BUILD=build-static LIB=build-static/libvae.a PROG=vae-static \
	    LDFLAGS="$(LDFLAGS) -static" vae-static

clean:
	rm -rf $(BUILD) $(CROSS_BUILD) build-asan build-tsan build-fuzz libvae.a vae $(BENCH) demo.model demo-samples.png demo-recon.png
	rm -rf build-static vae-static

# ------------------------------------------------ tests under an emulator
# check-aarch64: library, vae and tests cross-built for aarch64 (so the NEON
#   kernels) in $(CROSS_BUILD)/, run under qemu-aarch64.
# check-noavx: this build's tests under qemu-x86_64 on a CPU without AVX, so
#   dispatch must fall back to the scalar kernels.
# Each first checks that the emulated CPU gets the expected kernel table.
# The two-epoch training test (tag "slow", ~6 min under qemu) is left out
# there: it runs natively in `make check`, and the emulated runs keep the
# kernel, GEMM, small-training determinism and resume tests.
# Needs gcc-aarch64-linux-gnu, check:arm64, libsubunit-dev:arm64 and
# qemu-user (Debian). The CLI tests run the program as
# $VAE_TEST_RUNNER $VAE_TEST_PROG; Check's per-test timeouts are stretched
# by CK_TIMEOUT_MULTIPLIER, since emulation is many times slower.
# qemu-aarch64 -L / runs the binaries on Debian's arm64 multiarch runtime
# (/lib/ld-linux-aarch64.so.1, libc6:arm64, which check:arm64 pulls in); with
# -L /usr/aarch64-linux-gnu, the cross toolchain's own libc (2.36-8cross1)
# hangs or crashes in fork() under qemu 7.2, and Check forks for every test.
CROSS_CC      = aarch64-linux-gnu-gcc
CROSS_BUILD   = build-aarch64
CROSS_PKG_DIR = /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
QEMU_AARCH64  = qemu-aarch64 -L /
QEMU_NOAVX    = qemu-x86_64 -cpu Westmere
EMU_TIMEOUT_MULTIPLIER = 10
.PHONY: check-aarch64 check-noavx check-emulated

check-aarch64:
	PKG_CONFIG_LIBDIR=$(CROSS_PKG_DIR) $(MAKE) CC=$(CROSS_CC) BUILD=$(CROSS_BUILD) \
	    LIB=$(CROSS_BUILD)/libvae.a PROG=$(CROSS_BUILD)/vae \
	    EMULATOR='$(QEMU_AARCH64)' EXPECT_KERNELS=neon check-emulated

check-noavx:
	$(MAKE) EMULATOR='$(QEMU_NOAVX)' EXPECT_KERNELS=scalar check-emulated

check-emulated: $(BUILD)/run_tests $(PROG)
	$(EMULATOR) $(abspath $(PROG)) --version | tee $(BUILD)/emulated-version.txt
	grep -Eq 'kernels: $(EXPECT_KERNELS)[,)]' $(BUILD)/emulated-version.txt
	CK_EXCLUDE_TAGS=slow VAE_TEST_RUNNER='$(EMULATOR)' VAE_TEST_PROG=$(abspath $(PROG)) \
	    CK_TIMEOUT_MULTIPLIER=$(EMU_TIMEOUT_MULTIPLIER) $(EMULATOR) $(BUILD)/run_tests

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
