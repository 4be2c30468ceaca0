# XFER_BUILD_FUZZ: the whole build (library included) with AddressSanitizer, UndefinedBehavior-
# Sanitizer and libFuzzer's coverage instrumentation; the fuzz binaries (tests/fuzz) add libFuzzer's
# main with -fsanitize=fuzzer. Included by the top CMakeLists.txt before any target is defined.
# LibTorch, OpenCV and zlib stay uninstrumented system libraries. docs/fuzzing.md.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "XFER_BUILD_FUZZ needs clang with libFuzzer (Debian: clang, "
                      "libclang-rt-14-dev) and -DCMAKE_CXX_COMPILER=clang++; found "
                      "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER}")
endif()
# -fno-sanitize-recover: every UBSan report aborts, so libFuzzer records it as a crash.
add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                    -fsanitize=fuzzer-no-link -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
