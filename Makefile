# pathfm: `make` builds bin/, `make test` runs every test (plain and under
# ASan+UBSan), `make demo` runs the demo, `make deps` installs what is
# missing. See README.md.

PREFIX   ?= /usr/local
CC       ?= cc
VERSION  := 0.1.0
BUILD    ?= build
BINDIR   ?= bin
SAN      ?=

# msgpack-c is "msgpack" on Debian 12 and "msgpack-c" on newer systems.
MSGPACK_PC := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PKGS     := openslide libtiff-4 libturbojpeg libpng libzmq $(MSGPACK_PC) openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# OPT is the optimisation level; CFLAGS/LDFLAGS are left to the user.
OPT      ?= -O2 -g
ALL_CFLAGS = $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Icommon -I$(BUILD)/gen \
            -DPFM_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(SAN) $(CUDA_CFLAGS) $(CFLAGS)
ALL_LDLIBS = $(PKG_LIBS) $(CUDA_LIBS) -lm -lpthread $(LDLIBS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)

# CUDA: built when nvcc is found; CUDA=0 / CUDA=1 override.
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA     ?= $(if $(NVCC),1,0)
CU_SRCS  := $(wildcard common/cuda/*.cu)
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_CFLAGS := -DPFM_CUDA=1 -I$(CUDA_HOME)/include
comma    := ,
CUDA_LIBS := $(if $(CU_SRCS),-L$(CUDA_HOME)/lib64 -Wl$(comma)-rpath$(comma)$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++)
endif

# oneDNN (Debian's libdnnl-dev) for embed's bf16 path; optional.
DNNL     ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(DNNL),1)
ALL_CFLAGS += -DPFM_DNNL=1
ALL_LDLIBS += -ldnnl -lgomp
endif

LIB_SRCS := $(wildcard common/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/schemas_gen.o \
            $(if $(filter 1,$(CUDA)),$(CU_SRCS:%.cu=$(BUILD)/%.o))
LIB      := $(BUILD)/libpathfm.a
PROGS    := $(patsubst filters/%.c,$(BINDIR)/%,$(wildcard filters/*.c))
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
SCHEMAS  := $(sort $(wildcard schemas/*.json))
PIPELINES := pretrain extract-features bench-wsi-cls bench-survival \
            bench-roi-cls bench-retrieval bench-report bench-vqa make-text-sets \
            suite scale

.PHONY: all test check check-asan tsan-par demo deps install fuzz perf clean info ldlibs
all: info $(PROGS)

# what a program linking $(LIB) needs (tests/perf's C programs)
ldlibs:
	@echo $(ALL_LDLIBS)

info:
	@echo "pathfm $(VERSION): CC=$(CC) msgpack=$(MSGPACK_PC) CUDA=$(if $(filter 1,$(CUDA)),enabled ($(NVCC)),disabled) oneDNN=$(if $(filter 1,$(DNNL)),enabled,disabled)$(if $(SAN), SAN=$(SAN))"

$(BUILD)/%.o: %.c $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The elementwise kernels (ViT forward and backward, losses, Adam, MIL):
# -O3 and no errno so their loops vectorise (with the AVX-512/AVX2 clones
# the sources ask for); results do not depend on it. Set here, not by
# `#pragma GCC optimize`, which does not reach target_clones: Adam's loop
# stayed scalar (sqrtf's errno branch) and ran 13x slower.
$(BUILD)/common/vit_kernels.o $(BUILD)/common/vit_bf16.o $(BUILD)/common/vit_grad.o \
$(BUILD)/common/adamw.o $(BUILD)/common/distill_loss.o $(BUILD)/common/mil_model.o \
$(BUILD)/common/gemm_bf16.o: \
	OPT += -O3 -fno-math-errno -fno-trapping-math

$(BUILD)/common/cuda/%.o: common/cuda/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) -O2 -std=c++17 -Icommon -arch=sm_90 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -c $< -o $@

# The schemas are compiled in, so --check works wherever a binary goes.
$(BUILD)/gen/schemas_gen.c: tools/embed-schemas.sh $(SCHEMAS)
	@mkdir -p $(dir $@)
	sh tools/embed-schemas.sh $@ $(SCHEMAS)

$(BUILD)/gen/schemas_gen.o: $(BUILD)/gen/schemas_gen.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BINDIR)/%: $(BUILD)/filters/%.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(ALL_LDFLAGS) $< $(LIB) $(ALL_LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) $< $(LIB) $(ALL_LDLIBS) -o $@

# Plain build and tests, then the same suite under ASan + UBSan.
test: deps
	$(MAKE) check
	$(MAKE) tsan-par
	$(MAKE) check-asan

# The thread pool under ThreadSanitizer (its test alone: the rest of the
# library runs its threads through it). die_after_fork=0: the test forks
# on purpose.
tsan-par: $(BUILD)/tsan/test_par
	TSAN_OPTIONS="die_after_fork=0 halt_on_error=1" $(BUILD)/tsan/test_par

$(BUILD)/tsan/test_par: tests/test_par.c common/par.c common/par.h tests/check.h
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=thread -O1 -g -std=c11 -D_GNU_SOURCE -Icommon $(filter %.c,$^) -lpthread -o $@

check: all $(TESTS)
	sh tests/run-tests.sh $(BUILD)/tests $(BINDIR)

check-asan:
	$(MAKE) check BUILD=build-asan BINDIR=build-asan/bin OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" CUDA=0

# The demo (pipelines/demo, bash) on the data shipped in tests/data.
demo: deps all
	bash pipelines/demo

deps:
	@sh tools/deps.sh

# libFuzzer targets (clang), each run FUZZ_SECONDS after both are built;
# the committed corpora are replayed by `make check`. New inputs go to
# $(FUZZ_BIN)/corpus-*, crashes to $(FUZZ_BIN)/ (save them under
# tests/fuzz/crashes/). The safetensors target links only what it uses.
FUZZ_BIN := $(BUILD)/fuzz
FUZZ_TARGETS := frames safetensors model text
FUZZ_SRCS_frames := $(LIB_SRCS) $(BUILD)/gen/schemas_gen.c
FUZZ_SRCS_safetensors := common/safetensors.c common/safetensors_save.c \
  common/frame.c common/err.c common/mem.c
FUZZ_SRCS_model := $(LIB_SRCS) $(BUILD)/gen/schemas_gen.c
FUZZ_SRCS_text := $(LIB_SRCS) $(BUILD)/gen/schemas_gen.c
FUZZ_CC = clang -g -O1 -std=c11 -D_GNU_SOURCE -Icommon -I$(BUILD)/gen $(PKG_CFLAGS) \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
fuzz: $(BUILD)/gen/schemas_gen.c
	@mkdir -p $(FUZZ_BIN)
	$(foreach t,$(FUZZ_TARGETS),$(FUZZ_CC) tests/fuzz/fuzz_$(t).c $(FUZZ_SRCS_$(t)) \
	  $(PKG_LIBS) -lm -o $(FUZZ_BIN)/fuzz_$(t) && ) true
	$(foreach t,$(FUZZ_TARGETS),mkdir -p $(FUZZ_BIN)/corpus-$(t) && \
	  $(FUZZ_BIN)/fuzz_$(t) -max_total_time=$${FUZZ_SECONDS:-60} -artifact_prefix=$(FUZZ_BIN)/ \
	  $(FUZZ_BIN)/corpus-$(t) tests/fuzz/corpus/$(t) && ) true

# Every benchmark script, one after another (each prints and checks its
# own table; RESULTS.md holds the recorded runs).
perf: all
	for s in tests/perf/*.sh; do sh "$$s" || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/pathfm/schemas
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	for s in 1 5 7; do for f in man/man$$s/*.$$s; do [ -e "$$f" ] && \
	  install -m 644 "$$f" $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; done; true
	install -m 644 $(SCHEMAS) $(DESTDIR)$(PREFIX)/share/pathfm/schemas/
	# the pipelines (bash): in share/pathfm/pipelines with their shared
	# functions, on PATH as pathfm-NAME; the demo runs from a checkout only
	install -d $(DESTDIR)$(PREFIX)/share/pathfm/pipelines
	install -m 644 pipelines/lib.sh pipelines/bench.sh pipelines/bench-text.sh $(DESTDIR)$(PREFIX)/share/pathfm/pipelines/
	for p in $(PIPELINES); do \
	  install -m 755 pipelines/$$p $(DESTDIR)$(PREFIX)/share/pathfm/pipelines/ && \
	  ln -sf ../share/pathfm/pipelines/$$p $(DESTDIR)$(PREFIX)/bin/pathfm-$$p || exit 1; done
	# convert-weights needs Python with torch: not in bin/; run it from
	# share/pathfm/tools with PATHFM_PYTHON set (see convert-weights(1))
	install -d $(DESTDIR)$(PREFIX)/share/pathfm/tools/convert_weights
	install -m 755 tools/convert-weights $(DESTDIR)$(PREFIX)/share/pathfm/tools/
	install -m 644 tools/convert_weights/*.py $(DESTDIR)$(PREFIX)/share/pathfm/tools/convert_weights/

clean:
	rm -rf build build-asan bin

.SECONDARY:
