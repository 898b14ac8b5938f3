#include <catch2/catch.hpp>

#include "kernels/ggml_type.h"
#include "common/status.h"

using namespace shardq;

namespace {
Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd value " + std::to_string(x));
  return x / 2;
}
Result<int> Quarter(int x) {
  SHARDQ_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}
}  // namespace

TEST_CASE("Status carries code and message and Result propagates the first error") {
  REQUIRE(Quarter(8).ok());
  REQUIRE(*Quarter(8) == 2);
  Result<int> r = Quarter(6);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.status().code() == Status::Code::kInvalidArgument);
  REQUIRE(r.status().ToString() == "invalid argument: odd value 3");
  REQUIRE(r.status().WithContext("f.gguf: ").message() == "f.gguf: odd value 3");
}

TEST_CASE("ggml type names round-trip and ids match ggml.h") {
  REQUIRE(static_cast<uint32_t>(GgmlType::Q4_K) == 12);
  REQUIRE(static_cast<uint32_t>(GgmlType::BF16) == 30);
  REQUIRE(static_cast<uint32_t>(GgmlType::TQ2_0) == 35);
  REQUIRE(*ParseGgmlType("q4_k") == GgmlType::Q4_K);
  REQUIRE(std::string(GgmlTypeName(GgmlType::IQ4_NL)) == "IQ4_NL");
  REQUIRE_FALSE(ParseGgmlType("Q4_Z").has_value());
}
