build-clang/core/pool.o: core/pool.c core/pool.h core/internal.h \
  core/vae.h

core/pool.h:

core/internal.h:

core/vae.h:
