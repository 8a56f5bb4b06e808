build-clang/core/checkpoint.o: core/checkpoint.c core/model.h \
  core/internal.h core/vae.h

core/model.h:

core/internal.h:

core/vae.h:
