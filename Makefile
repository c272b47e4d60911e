# tpipe — small Unix filters that pass tensors through pipes. See README.md.
#
#   make                 build bin/* (CPU)
#   make test            install missing Debian packages, build, run every test
#   make test SAN=1      the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make data            fetch MNIST and Fashion-MNIST into data/ (sha256-checked)
#   make demo            the main job on real MNIST (what the README's first command runs)
#   make fuzz            fuzz every reader of files (FUZZ_SECONDS each, clang/libFuzzer)
#   make structure       the code's shape measured: mains' lengths, layers and cycles of the
#                        uses between files, backends named in programs (tests/structure.py)
#   make check-outputs   every program's outputs on a fixed set of commands against the sums
#                        recorded on this machine (tests/outputs/run.sh; --record to renew)
#   make bench           throughput figures
#   make bench-mpi       mpirun -np 2 train beside one process of 2 threads; the cost model
#   make bench-gpu       tpipe on an NVIDIA GPU beside PyTorch on it (needs nvcc, PyTorch, data/mnist)
#   make devkit          the Debian packages and MNIST a GPU machine that installs nothing needs
#   make device-check    the one prepared check of the GPU path (tests/gpu/device-check.sh)
#   make cluster-full    an experiment of pipelines/ (also mnist-best, mnist-small, mnist-lenet5,
#                        mnist-fast, mnist-fast-99.5,
#                        jpeg-notebook, vgg16-notebook, cluster-notebook)
#   make install PREFIX=/usr/local
#
# Knobs: MARCH=-march=x86-64-v3, OPT=-O3, CUDA=0 (no GPU parts), MPI=0 (no MPI library),
#        SAN=1, CC=clang.

CC       ?= cc
OPT      ?= -O2
MARCH    ?= -march=native
CFLAGS   ?= $(OPT) $(MARCH) -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -Ilib -D_FILE_OFFSET_BITS=64
LDLIBS   := -lopenblas -lfftw3 -lpng -ljpeg -lz -lm -lpthread
# libhdf5 (optional, HDF5=0 turns it off): Keras .h5 weight files in wimport; without it
# wimport reads TensorFlow.js weights and says how to get .h5 support
HDF5 ?= auto
ifneq ($(HDF5),0)
  HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null)
  HDF5_LIBS   := $(shell pkg-config --libs hdf5 2>/dev/null)
  ifeq ($(HDF5_LIBS),)
    ifneq ($(wildcard /usr/include/hdf5/serial/hdf5.h),)
      HDF5_CFLAGS := -I/usr/include/hdf5/serial
      HDF5_LIBS   := -lhdf5_serial
    endif
  endif
  ifneq ($(HDF5_LIBS),)
    CPPFLAGS += -DTP_HDF5 $(HDF5_CFLAGS)
    LDLIBS   += $(HDF5_LIBS)
  endif
endif
PREFIX   ?= /usr/local
MANDIR   ?= $(PREFIX)/share/man

BUILD ?= build
BIN   ?= bin
ifeq ($(SAN),1)
  BUILD  := build-san
  BIN    := build-san/bin
  CFLAGS := -O1 -g $(MARCH) -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
# 'omp simd' pragmas mark reductions that may be vectorised (no OpenMP runtime is used);
# no code reads errno after a math function, so sqrt can be vectorised
CFLAGS   += -fopenmp-simd -fno-math-errno

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS     := $(patsubst tools/%.c,%,$(wildcard tools/*.c))
PROGS     := $(addprefix $(BIN)/,$(TOOLS))
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# CUDA: built only where nvcc exists (CUDA=0 turns it off). cuda/*.cu become one shared
# library, libtpipe-cuda.so, that programs load at run time for --device (lib/device.c): the
# programs themselves never link CUDA, so they run where its libraries are missing. It is
# built once in build/ (a SAN=1 build loads the same one).
CUDA     ?= auto
NVCC     ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CU_SRC   := $(wildcard cuda/*.cu)
CUDA_SO  :=
ifneq ($(CUDA),0)
ifneq ($(NVCC),)
ifneq ($(CU_SRC),)
  CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
  CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80 \
               -gencode arch=compute_75,code=sm_75 -gencode arch=compute_90,code=compute_90
  CUDA_SO   := build/libtpipe-cuda.so
  CU_OBJ    := $(CU_SRC:%.cu=build/%.o)
  CU_LIBS   := -L$(CUDA_HOME)/lib64 -Xlinker -rpath=$(CUDA_HOME)/lib64 -lcublas -lcudart
  # NCCL (an MPI job's gradient sum between GPUs) where its header is beside nvcc; NCCL=0: none
  NCCL      ?= auto
  ifneq ($(NCCL),0)
  ifneq ($(wildcard $(CUDA_HOME)/include/nccl.h),)
    CU_DEFS := -DTP_NCCL
    CU_LIBS += -lnccl
  endif
  endif
endif
endif
endif
LDLIBS   += -ldl

# MPI: built only where mpicc exists (MPI=0 turns it off). mpi/*.c become libtpipe-mpi.so,
# which a program started by mpirun/srun loads at run time (lib/comm.c), as it loads the
# CUDA library: the programs never link MPI. Built once in build/, as the CUDA library is.
MPI      ?= auto
MPICC    ?= $(shell command -v mpicc 2>/dev/null)
MPI_SO   :=
ifneq ($(MPI),0)
ifneq ($(MPICC),)
  MPI_SO := build/libtpipe-mpi.so
endif
endif

VERSION := $(shell sed -n 's/^\#define TP_VERSION "\(.*\)"/\1/p' lib/util.h)
FRONT = sed -e 's|@LIBEXEC@|$(1)|' -e 's|@VERSION@|$(VERSION)|' tools/tpipe.sh

.PHONY: all deps test test-run structure build-tests devkit device-check check-outputs data demo fuzz bench bench-mpi bench-vgg16 bench-gpu install clean mnist-best mnist-small mnist-lenet5 mnist-fast mnist-fast-99.5 jpeg-notebook \
        vgg16-notebook cluster-notebook cluster-full
all: $(PROGS) $(BIN)/tpipe $(CUDA_SO) $(MPI_SO)

$(BIN)/tpipe: tools/tpipe.sh lib/util.h
	@mkdir -p $(dir $@)
	$(call FRONT,$(abspath $(BIN))) > $@
	chmod 755 $@

$(BUILD)/libtpipe.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# the Barnes-Hut kernels vectorise only with -O3's inlining (type-punned exp2/log2)
$(BUILD)/lib/tsne_bh.o: CFLAGS += -O3

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c $< -o $@

build/cuda/%.o: cuda/%.cu $(wildcard cuda/*.h cuda/*.cuh lib/*.h)
	@mkdir -p $(dir $@)
	$(NVCC) -O3 $(CUDA_ARCH) $(CU_DEFS) -Ilib -Xcompiler -fPIC,-Wall,-Wextra -c $< -o $@

$(CUDA_SO): $(CU_OBJ)
	$(NVCC) -shared $(CUDA_ARCH) $^ $(CU_LIBS) -o $@

$(MPI_SO): $(wildcard mpi/*.c) lib/comm.h
	@mkdir -p $(dir $@)
	$(MPICC) -O2 -g -fPIC -shared -Ilib $(WARN) $(filter %.c,$^) -o $@

$(BIN)/%: $(BUILD)/tools/%.o $(BUILD)/libtpipe.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libtpipe.a $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libtpipe.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libtpipe.a $(LDLIBS) -o $@

deps:
	@tools/deps.sh

# the programs, the unit tests and the CUDA library, without installing anything
build-tests: $(PROGS) $(BIN)/tpipe $(UNITS) $(CUDA_SO) $(MPI_SO)

# what a lent GPU machine needs (.devkit/: Debian packages, MNIST), then the check itself; on
# such a machine, run tests/gpu/device-check.sh with .devkit carried along
devkit:
	@tools/devkit.sh

device-check: devkit
	@tests/gpu/device-check.sh

# the sub-make reads this file again after deps: what deps installed (mpicc, libhdf5) is seen
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(PROGS) $(BIN)/tpipe $(UNITS) $(CUDA_SO) $(MPI_SO)
	@BIN=$(abspath $(BIN)) UNITS=$(abspath $(BUILD)/tests) TPIPE_CUDA_LIB=$(if $(CUDA_SO),$(abspath $(CUDA_SO))) \
	    TPIPE_MPI_LIB=$(if $(MPI_SO),$(abspath $(MPI_SO))) \
	    $(if $(filter 1,$(SAN)),ASAN_OPTIONS=protect_shadow_gap=0$(if $(ASAN_OPTIONS),:$(ASAN_OPTIONS))) tests/run.sh

data:
	@tools/getdata.sh

structure:
	@python3 tests/structure.py

# sha256 of what a fixed set of commands writes, against tests/outputs/sums.txt: behaviour
# kept across a change (the sums depend on the CPU: record them first on the same machine)
check-outputs: all
	@tools/getdata.sh mnist
	@BIN=$(abspath $(BIN)) tests/outputs/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@tools/getdata.sh mnist
	@pipelines/demo.sh

# The experiments of pipelines/ (outputs under out/; DATA=fashion and each script's knobs
# pass through the environment, e.g. make cluster-full SIZE=20000)
mnist-best mnist-small mnist-lenet5 mnist-fast mnist-fast-99.5: all
	@pipelines/mnist.sh $(@:mnist-%=%)
jpeg-notebook vgg16-notebook: all
	@pipelines/$@.sh
cluster-notebook cluster-full: all
	@pipelines/cluster.sh $(@:cluster-%=%)

FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_LIBS="$(LDLIBS)" tests/fuzz/run.sh

bench: all
	@tests/bench/run.sh

# data-parallel training under mpirun beside one process, and the cost model's figures
bench-mpi: all
	@tests/bench/mpi.sh

# the VGG16 notebook's CPU cost (minutes; not part of make bench; TAKE=N images, OLD=DIR an earlier build beside)
bench-vgg16: all
	@tests/bench/vgg16.sh

# tpipe on an NVIDIA GPU beside PyTorch on the same GPU (sized for about 5 minutes on an H100; not yet timed); it builds
# with one job per core itself, for the GPU at hand
bench-gpu:
	@tests/bench/gpu.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/tpipe $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/libexec/tpipe/
	$(if $(CUDA_SO),install -m 755 $(CUDA_SO) $(DESTDIR)$(PREFIX)/libexec/tpipe/)
	$(if $(MPI_SO),install -m 755 $(MPI_SO) $(DESTDIR)$(PREFIX)/libexec/tpipe/)
	for p in $(TOOLS); do install -m 644 tools/$$p.1 $(DESTDIR)$(MANDIR)/man1/tpipe-$$p.1 || exit 1; done
	install -m 644 tools/tpipe.1 $(DESTDIR)$(MANDIR)/man1/tpipe.1
	$(call FRONT,$(PREFIX)/libexec/tpipe) > $(DESTDIR)$(PREFIX)/bin/tpipe
	chmod 755 $(DESTDIR)$(PREFIX)/bin/tpipe

clean:
	rm -rf build build-san build-fuzz $(filter-out bin/.gitkeep,$(wildcard bin/*))

-include $(LIB_OBJ:.o=.d) $(TOOLS:%=$(BUILD)/tools/%.d) $(UNIT_SRC:%.c=$(BUILD)/%.d)
