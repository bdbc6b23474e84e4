# .ci/aarch64.cmake - CMake toolchain for the AArch64 cross build that
# .ci/aarch64 tests under qemu-user.  BOUCLE_AARCH64_SYSROOT holds the
# arm64 builds of liburcu and ck, unpacked from Debian's packages.
# Executables are linked statically: qemu-user 7.2 hangs in clone() for
# dynamically linked guests on this kernel.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# try_compile re-reads this file without the cache: keep the environment
# the first read set.
if(BOUCLE_AARCH64_SYSROOT)
  set(ENV{PKG_CONFIG_LIBDIR}
      ${BOUCLE_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${BOUCLE_AARCH64_SYSROOT})
  # Keep -I<sysroot>/usr/include: its ck_md.h must win over the host's.
  set(ENV{PKG_CONFIG_ALLOW_SYSTEM_CFLAGS} 1)
  set(ENV{PKG_CONFIG_ALLOW_SYSTEM_LIBS} 1)
endif()
