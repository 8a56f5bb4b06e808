build-clang/io/image_dir.o: io/image_dir.c core/internal.h core/vae.h \
  io/io_internal.h

core/internal.h:

core/vae.h:

io/io_internal.h:
