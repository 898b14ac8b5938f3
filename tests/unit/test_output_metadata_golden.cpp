// The metadata shardq writes against llama.cpp's own files: the golden GGUFs in
// ../shared/golden/gguf were made by llama.cpp (convert + llama-quantize). shardq's output
// for the same model and preset must carry the same keys, in the same order, with
// equal values (tokenizer arrays included, element by element), and the same GGUF
// version and alignment.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <map>
#include <string>

#include "common/gguf_reader.h"
#include "tests/unit/test_util.h"

using namespace shardq;

TEST_CASE("output GGUF metadata equals llama.cpp's for the same model and preset", "[gguf][golden]") {
  struct Case {
    const char* model;   // under ../shared/models (the source llama.cpp quantized)
    const char* preset;
    const char* golden;  // under ../shared/golden/gguf
  };
  const Case cases[] = {
      {"shakespeare-5m", "Q4_K_M", "shakespeare-5m-Q4_K_M.gguf"},
      {"shakespeare-5m", "Q8_0", "shakespeare-5m-Q8_0.gguf"},
      {"stories260K/stories260K.gguf", "Q4_K_M", "stories260K-Q4_K_M.gguf"},
  };
  const std::string dir = testing::MakeTempDir("metadata_golden");
  for (const Case& c : cases) {
    INFO(c.model << " " << c.preset << " vs " << c.golden);
    const std::string out = dir + "/" + std::to_string(&c - cases) + "-" + c.preset + ".gguf";
    const std::string cmd = std::string(SHARDQ_BINARY) + " quantize --quiet --model " +
                            testing::SharedPath(std::string("models/") + c.model) + " --out " + out +
                            " --type " + c.preset + " --threads 1";
    REQUIRE(std::system(cmd.c_str()) == 0);
    auto ours = GgufFile::Open(out);
    REQUIRE(ours.ok());
    auto theirs = GgufFile::Open(testing::SharedPath(std::string("golden/gguf/") + c.golden));
    REQUIRE(theirs.ok());
    CHECK((*ours)->version() == (*theirs)->version());
    CHECK((*ours)->alignment() == (*theirs)->alignment());
    const auto& a = (*ours)->metadata().entries();
    const auto& b = (*theirs)->metadata().entries();
    std::vector<std::string> keys_a, keys_b;
    for (const auto& [k, v] : a) keys_a.push_back(k);
    for (const auto& [k, v] : b) keys_b.push_back(k);
    CHECK(keys_a == keys_b);
    REQUIRE(b.size() > 10);
    for (const auto& [key, want] : b) {
      INFO(key);
      const GgufValue* got = (*ours)->metadata().Find(key);
      REQUIRE(got != nullptr);
      CHECK(got->type == want.type);
      if (want.type == GgufValueType::ARRAY) {
        CHECK(got->array_type == want.array_type);
        CHECK(got->arr.size() == want.arr.size());
      }
      CHECK((*got == want));
    }
    // The same tensors with the same types (shardq's tensor order is its own canonical one).
    std::map<std::string, GgmlType> ta, tb;
    for (const TensorInfo& t : (*ours)->tensors()) ta[t.name] = t.type;
    for (const TensorInfo& t : (*theirs)->tensors()) tb[t.name] = t.type;
    CHECK(ta == tb);
  }
  std::filesystem::remove_all(dir);
}
