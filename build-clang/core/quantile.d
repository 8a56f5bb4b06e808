build-clang/core/quantile.o: core/quantile.c core/internal.h core/vae.h

core/internal.h:

core/vae.h:
