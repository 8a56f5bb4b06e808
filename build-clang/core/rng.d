build-clang/core/rng.o: core/rng.c core/internal.h core/vae.h

core/internal.h:

core/vae.h:
