#pragma once
// How the process's memory allocator treats the large, short-lived blocks of tensor work.

namespace xfer {

/// Makes glibc's malloc keep freed memory for the next allocation instead of handing every block
/// over its mmap threshold (128 kB to 32 MB) to mmap and back to the kernel on free: each batch's
/// activations (tens of MB) then cost a page fault per 4 kB touched, and on the 2-core machine a
/// mobilenet_v2 forward at 224 px spent as long in the kernel as computing (docs/BENCHMARKS.md,
/// "Allocator"). Peak memory grows (+15 % to +84 % measured) and is kept until the process ends.
/// Does nothing when the user tuned malloc already (GLIBC_TUNABLES naming malloc, or
/// MALLOC_MMAP_MAX_): `GLIBC_TUNABLES=glibc.malloc.mmap_max=65536` restores glibc's default.
void keep_freed_memory();

}  // namespace xfer
