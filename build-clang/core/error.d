build-clang/core/error.o: core/error.c core/internal.h core/vae.h

core/internal.h:

core/vae.h:
