#!/usr/bin/env bash
# glibc malloc as xfer sets it (freed blocks kept, no mmap: core/runtime.h keep_freed_memory)
# against glibc's default (blocks over the dynamic mmap threshold mapped and unmapped each time),
# alternated: `xfer forward` of a batch, wall/user/system seconds, minor page faults, peak RSS.
# Usage: bench/run_allocator.sh [xfer] [repeats] [model] [batch]
set -euo pipefail
xfer=${1:-build/xfer}
repeats=${2:-3}
model=${3:-mobilenet_v2}
batch=${4:-64}
for r in $(seq "$repeats"); do
  for mode in default xfer; do
    if [ "$mode" = default ]; then
      # Any malloc tunable in GLIBC_TUNABLES makes xfer leave malloc alone; this is glibc's default.
      export GLIBC_TUNABLES=glibc.malloc.mmap_max=65536
    else
      unset GLIBC_TUNABLES
    fi
    ms=$(/usr/bin/time -f "%e %U %S %R %M" -o /tmp/xfer-alloc.time \
           "$xfer" forward --models "$model" --batch "$batch" --size 224 --threads 2 |
         awk -v m="$model" '$1 == m {print $(NF-1)}')
    read -r wall user sys faults rss < /tmp/xfer-alloc.time
    echo "{\"repeat\": $r, \"malloc\": \"$mode\", \"forward_ms\": $ms, \"wall_s\": $wall, \"user_s\": $user, \"sys_s\": $sys, \"minor_faults\": $faults, \"max_rss_kb\": $rss}"
  done
done
