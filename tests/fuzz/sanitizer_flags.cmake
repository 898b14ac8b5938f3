# Included before any target is defined when SHARDQ_FUZZ is on: every library
# the fuzz targets link is instrumented for coverage (fuzzer-no-link) and
# checked by ASan and UBSan, so a bug deep inside a reader is seen, not only
# in the harness. The executables add -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SHARDQ_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                      "-DCMAKE_C_COMPILER=clang; found ${CMAKE_CXX_COMPILER_ID}")
endif()
set(SHARDQ_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=undefined)
add_compile_options(-fsanitize=fuzzer-no-link ${SHARDQ_FUZZ_SANITIZERS} -fno-omit-frame-pointer -g)
add_link_options(${SHARDQ_FUZZ_SANITIZERS})
