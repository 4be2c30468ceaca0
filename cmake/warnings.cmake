# xfer_warnings(target): -Wall -Wextra on our own code; LibTorch comes in as system headers.
function(xfer_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# xfer_pch(target): the heavy LibTorch headers, precompiled once (for xfer_core) and reused by
# every other target; a file that includes them compiles in ~2 s instead of ~10 s.
function(xfer_pch target)
  if(NOT XFER_PCH)
    return()
  endif()
  if(target STREQUAL "xfer_core")
    target_precompile_headers(${target} PRIVATE <torch/nn.h> <torch/types.h> <ATen/ATen.h>)
  else()
    target_precompile_headers(${target} REUSE_FROM xfer_core)
  endif()
endfunction()
