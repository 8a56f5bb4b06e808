build-clang/core/tensor.o: core/tensor.c core/internal.h core/vae.h

core/internal.h:

core/vae.h:
