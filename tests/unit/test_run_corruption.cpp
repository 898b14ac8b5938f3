// A byte flipped inside the state store's files on disk (or, for units written
// in place, inside the artifact they were written to) is caught by the
// checksums on the next run: the unit is dropped and recomputed, and the
// artifact comes out byte-identical; the damaged bytes never reach it.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/gguf_reader.h"
#include "tests/unit/test_util.h"

using namespace shardq;
namespace fs = std::filesystem;

namespace {

std::pair<int, std::string> Shardq(const std::string& args, const std::string& env = "") {
  std::string out;
  FILE* p = popen((env + (env.empty() ? "" : " ") + std::string(SHARDQ_BINARY) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// Flips one byte of the first occurrence of `needle` in any file under `dir`.
bool FlipInFiles(const std::string& dir, const std::vector<uint8_t>& needle, std::string* which) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::vector<uint8_t> bytes = testing::ReadFileBytes(e.path().string());
    auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    if (it == bytes.end()) continue;
    const size_t at = static_cast<size_t>(it - bytes.begin()) + needle.size() / 2;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    const char flipped = static_cast<char>(bytes[at] ^ 0x01);
    f.write(&flipped, 1);
    *which = e.path().filename().string();
    return true;
  }
  return false;
}

}  // namespace

std::string RtnSpec(const std::string& dir) {
  const std::string spec = dir + "/job.yaml";
  std::ofstream(spec) << "model: " << testing::SharedPath("models/shakespeare-5m") << "\n"
                      << "output: { path: " << dir << "/a.gguf }\nstate_dir: " << dir << "/state\n"
                      << "recipe:\n  quantize: { preset: Q4_K_M, algorithm: rtn }\n";
  return spec;
}

// 64 bytes from the middle of one tensor's packed data in the artifact.
std::vector<uint8_t> TensorMiddle(const std::string& gguf_path, const std::string& tensor) {
  auto gguf = GgufFile::Open(gguf_path);
  REQUIRE(gguf.ok());
  const TensorInfo* t = (*gguf)->Find(tensor);
  REQUIRE(t != nullptr);
  auto raw = (*gguf)->RawBytes(*t);
  REQUIRE(raw.ok());
  return std::vector<uint8_t>(raw->data + raw->size / 2, raw->data + raw->size / 2 + 64);
}

TEST_CASE("run: a corrupted blob in the state store is detected and recomputed", "[run]") {
  // Workers send the bytes to rank 0, which keeps them in the store.
  const std::string dir = testing::MakeTempDir("corrupt");
  const std::string spec = RtnSpec(dir);
  auto first = Shardq("run " + spec + " -q");
  INFO(first.second);
  REQUIRE(first.first == 0);
  const std::vector<uint8_t> good = testing::ReadFileBytes(dir + "/a.gguf");
  {
    // Run again with the bytes held by the store.
    fs::remove_all(dir + "/state");
    fs::remove(dir + "/a.gguf");
    auto r = Shardq("run " + spec + " -q", "SHARDQ_IN_PLACE=0");
    INFO(r.second);
    REQUIRE(r.first == 0);
    REQUIRE(testing::ReadFileBytes(dir + "/a.gguf") == good);
  }
  const std::vector<uint8_t> needle = TensorMiddle(dir + "/a.gguf", "blk.3.ffn_up.weight");
  std::string file;
  REQUIRE(FlipInFiles(dir + "/state", needle, &file));
  INFO("flipped a byte in " << file);

  fs::remove(dir + "/a.gguf");
  auto second = Shardq("run " + spec, "SHARDQ_IN_PLACE=0");
  INFO(second.second);
  REQUIRE(second.first == 0);
  // Either our CRC or RocksDB's block checksum catches it; either way one unit is recovered.
  REQUIRE_THAT(second.second, Catch::Contains("1 recovered"));
  REQUIRE_THAT(second.second, Catch::Contains("recomputing it"));
  REQUIRE(testing::ReadFileBytes(dir + "/a.gguf") == good);
  fs::remove_all(dir);
}

TEST_CASE("run: units written in place are checked on reuse, a damaged or missing tensor is recomputed", "[run]") {
  // The default: workers write their tensors into the artifact's temp file and
  // the store keeps only their records. A rerun of a finished job starts from
  // its output; each tensor is reused only if its bytes still have their CRC.
  const std::string dir = testing::MakeTempDir("inplace");
  const std::string spec = RtnSpec(dir);
  auto first = Shardq("run " + spec + " -q");
  INFO(first.second);
  REQUIRE(first.first == 0);
  const std::vector<uint8_t> good = testing::ReadFileBytes(dir + "/a.gguf");
  // The store holds records, not the packed bytes.
  const std::vector<uint8_t> needle = TensorMiddle(dir + "/a.gguf", "blk.3.ffn_up.weight");
  std::string file;
  REQUIRE_FALSE(FlipInFiles(dir + "/state", needle, &file));

  auto again = Shardq("run " + spec);
  INFO(again.second);
  REQUIRE(again.first == 0);
  REQUIRE_THAT(again.second, Catch::Contains("(8 reused from the state store, 0 computed, 0 recovered"));
  REQUIRE(testing::ReadFileBytes(dir + "/a.gguf") == good);

  // A byte flipped in one tensor of the output: that unit is recomputed.
  REQUIRE(FlipInFiles(dir, needle, &file));
  REQUIRE(file == "a.gguf");
  auto damaged = Shardq("run " + spec);
  INFO(damaged.second);
  REQUIRE(damaged.first == 0);
  REQUIRE_THAT(damaged.second, Catch::Contains("does not hold the bytes the worker wrote there"));
  REQUIRE_THAT(damaged.second, Catch::Contains("(7 reused from the state store, 1 computed, 1 recovered"));
  REQUIRE(testing::ReadFileBytes(dir + "/a.gguf") == good);

  // No output and no temp file: every unit is recomputed, same bytes.
  fs::remove(dir + "/a.gguf");
  auto gone = Shardq("run " + spec);
  INFO(gone.second);
  REQUIRE(gone.first == 0);
  REQUIRE_THAT(gone.second, Catch::Contains("(0 reused from the state store, 8 computed, 8 recovered"));
  REQUIRE(testing::ReadFileBytes(dir + "/a.gguf") == good);
  fs::remove_all(dir);
}

TEST_CASE("run: bad job specs are refused with the field named, nothing written", "[run]") {
  const std::string dir = testing::MakeTempDir("badspec");
  const std::string model = testing::SharedPath("models/shakespeare-5m");
  struct Case {
    std::string yaml, must_mention;
  };
  const std::vector<Case> cases = {
      {"output: { path: " + dir + "/o.gguf }\nrecipe: { quantize: { preset: Q4_K_M } }\n", "model"},
      {"model: " + model + "\noutput: { path: " + dir + "/o.gguf }\nrecipe: { quantize: { preset: Q4_K_X } }\n",
       "Q4_K_X"},
      {"model: " + model + "\noutput: { path: " + dir + "/o.gguf }\nrecipe: { quantize: { presett: Q4_K_M } }\n",
       "presett"},
      {"model: " + model + "\noutput: { path: " + dir + "/o.gguf }\nrecipe: { quantize: { preset: Q4_K_M }, prune: { sparsity: 0.5 } }\n",
       "prune"},
      {"model: " + dir + "/no-such-model\noutput: { path: " + dir + "/o.gguf }\nrecipe: { quantize: { preset: Q8_0 } }\n",
       "no-such-model"},
      {"model: [1, 2\n", "job.yaml"},
  };
  for (const auto& c : cases) {
    std::ofstream(dir + "/job.yaml") << c.yaml;
    auto r = Shardq("run " + dir + "/job.yaml --state " + dir + "/state");
    INFO(c.yaml << "\n-> " << r.second);
    REQUIRE(r.first != 0);
    REQUIRE(r.first != -1);
    REQUIRE_THAT(r.second, Catch::Contains(c.must_mention));
    REQUIRE_FALSE(fs::exists(dir + "/o.gguf"));
  }
  fs::remove_all(dir);
}
