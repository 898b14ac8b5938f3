// Catch2 v2 main, compiled once for the whole unit-test binary.
//
// Exit codes, as ctest reads them (each discovered entry runs one test case):
//   0   every selected test case ran and passed;
//   77  nothing failed, but a test case could not check its subject (SHARDQ_SKIP:
//       an ISA this CPU lacks, a missing llama.cpp tool); ctest's SKIP_RETURN_CODE;
//   2   no test case matched the name given (--warn NoTests, set by CMake);
//   other non-zero: failures. A failure count of exactly 77 is reported as 1, so a
//   failure can never read as a skip.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "test_util.h"

int main(int argc, char* argv[]) {
  const int rc = Catch::Session().run(argc, argv);
  if (rc == shardq::testing::kSkipExitCode) return 1;
  if (rc != 0) return rc;
  return shardq::testing::SkippedCount() > 0 ? shardq::testing::kSkipExitCode : 0;
}
