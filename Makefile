# vae - a dependency-free C11 VAE engine. One Makefile, no configure step.
#
#   make              libvae.a, its header core/vae.h and the vae program
#   make check        build and run the Check test suites
#   make demo         train on data/ for a few epochs, write sample pictures
#   make bench        run the benchmarks in bench/
#   make install      PREFIX=/usr/local DESTDIR=
#   make CC=clang     any C11 compiler; objects are rebuilt when CC changes

CC      ?= cc
CFLAGS  ?= -O2
WARN     = -std=c11 -Wall -Wextra -Werror
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Icore -Isimd -Iio
LDLIBS   = -lm -lpthread
AR      ?= ar
PREFIX  ?= /usr/local

BUILD    = build

# The target decides which ISA files are built; each gets its own flags, so
# the default build runs on any CPU of the architecture.
TARGET  := $(shell $(CC) -dumpmachine)
ifneq ($(filter x86_64%,$(TARGET)),)
ISA_SRC  = simd/avx2.c simd/avx512.c
endif
ifneq ($(filter aarch64%,$(TARGET)),)
ISA_SRC  = simd/neon.c
endif
LIB_SRC  = $(filter-out core/main.c,$(wildcard core/*.c)) simd/scalar.c simd/dispatch.c \
           $(ISA_SRC) $(wildcard io/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)

TEST_SRC = $(wildcard tests/check_*.c)
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt)

BENCH    = bench/peak bench/gemm

.PHONY: all check demo bench install clean
all: libvae.a vae

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

libvae.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

vae: $(BUILD)/core/main.o libvae.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/run_tests: $(TEST_OBJ) libvae.a
	$(CC) $(CFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

check: $(BUILD)/run_tests vae
	./$(BUILD)/run_tests

bench/%: bench/%.c libvae.a
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -o $@ $^ $(LDLIBS)

bench: $(BENCH)
	./bench/peak
	./bench/gemm

DEMO_EPOCHS ?= 5
demo: vae
	./vae train --data data --epochs $(DEMO_EPOCHS) --out demo.model
	./vae sample --model demo.model --n 64 --out demo-samples.png
	./vae recon --model demo.model --data data --n 32 --out demo-recon.png

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 vae $(DESTDIR)$(PREFIX)/bin/vae
	install -m 644 libvae.a $(DESTDIR)$(PREFIX)/lib/libvae.a
	install -m 644 core/vae.h $(DESTDIR)$(PREFIX)/include/vae.h

clean:
	rm -rf $(BUILD) libvae.a vae $(BENCH) demo.model demo-samples.png demo-recon.png

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/core/main.d
