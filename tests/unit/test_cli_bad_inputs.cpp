// `shardq quantize` on broken models: each case must exit non-zero with one
// error line naming the file (and tensor), and leave no file at --out.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/unit/test_util.h"

using namespace shardq;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using testing::RunResult;
using testing::RunShardq;

// The shakespeare-5m safetensors split into header JSON and data bytes.
struct Safetensors {
  json header;
  std::vector<uint8_t> data;
};

Safetensors LoadShakespeare() {
  std::vector<uint8_t> b = testing::ReadFileBytes(testing::SharedPath("models/shakespeare-5m/model.safetensors"));
  REQUIRE(b.size() > 8);
  uint64_t n;
  std::memcpy(&n, b.data(), 8);
  Safetensors s;
  s.header = json::parse(std::string(b.begin() + 8, b.begin() + 8 + n));
  s.data.assign(b.begin() + 8 + n, b.end());
  return s;
}

void WriteSafetensors(const std::string& path, const std::string& header_text, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header_text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(header_text.data(), n);
  out.write(reinterpret_cast<const char*>(data.data()), data.size());
}

// A model folder with shakespeare-5m's config and tokenizer and the given weights file.
std::string MakeModelDir(const std::string& tag) {
  const std::string dir = testing::MakeTempDir(tag);
  for (const char* f : {"config.json", "tokenizer.model"})
    fs::copy_file(testing::SharedPath(std::string("models/shakespeare-5m/") + f), dir + "/" + f);
  return dir;
}

void ExpectCleanFailure(const std::string& dir, const std::vector<std::string>& must_mention) {
  const std::string out = dir + "/out.gguf";
  RunResult r = RunShardq("quantize --model " + dir + " --out " + out + " --type Q8_0");
  INFO(r.output);
  REQUIRE(r.exit_code != 0);
  REQUIRE(r.exit_code != -1);  // exited, not killed by a signal
  for (const auto& word : must_mention) REQUIRE_THAT(r.output, Catch::Contains(word));
  REQUIRE_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir))  // no temp file left either
    REQUIRE(e.path().filename().string().find("out.gguf") == std::string::npos);
}

}  // namespace

TEST_CASE("quantize: truncated weights file", "[cli]") {
  Safetensors s = LoadShakespeare();
  const std::string dir = MakeModelDir("trunc");
  s.data.resize(s.data.size() / 2);
  WriteSafetensors(dir + "/model.safetensors", s.header.dump(), s.data);
  ExpectCleanFailure(dir, {"model.safetensors"});
  fs::remove_all(dir);
}

TEST_CASE("quantize: header length past end of file", "[cli]") {
  const std::string dir = MakeModelDir("hdrlen");
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  const uint64_t n = 1u << 30;
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << "{}";
  out.close();
  ExpectCleanFailure(dir, {"model.safetensors"});
  fs::remove_all(dir);
}

TEST_CASE("quantize: tensor offsets out of range, overlapping, wrong size, unknown dtype", "[cli]") {
  const Safetensors base = LoadShakespeare();
  const std::string victim = "model.layers.0.self_attn.q_proj.weight";
  REQUIRE(base.header.contains(victim));

  SECTION("out of range") {
    Safetensors s = base;
    s.header[victim]["data_offsets"][1] = s.data.size() + 4096;
    const std::string dir = MakeModelDir("range");
    WriteSafetensors(dir + "/model.safetensors", s.header.dump(), s.data);
    ExpectCleanFailure(dir, {"model.safetensors", victim});
    fs::remove_all(dir);
  }
  SECTION("overlapping") {
    Safetensors s = base;
    const std::string other = "model.layers.0.self_attn.k_proj.weight";
    const uint64_t begin = s.header[other]["data_offsets"][0];
    const uint64_t size = uint64_t(s.header[victim]["data_offsets"][1]) - uint64_t(s.header[victim]["data_offsets"][0]);
    s.header[victim]["data_offsets"] = {begin, begin + size};
    const std::string dir = MakeModelDir("overlap");
    WriteSafetensors(dir + "/model.safetensors", s.header.dump(), s.data);
    ExpectCleanFailure(dir, {"model.safetensors", "overlap"});
    fs::remove_all(dir);
  }
  SECTION("shape does not match the byte size") {
    Safetensors s = base;
    s.header[victim]["shape"] = {256, 255};
    const std::string dir = MakeModelDir("shape");
    WriteSafetensors(dir + "/model.safetensors", s.header.dump(), s.data);
    ExpectCleanFailure(dir, {"model.safetensors", victim});
    fs::remove_all(dir);
  }
  SECTION("unknown dtype") {
    Safetensors s = base;
    s.header[victim]["dtype"] = "F99";
    const std::string dir = MakeModelDir("dtype");
    WriteSafetensors(dir + "/model.safetensors", s.header.dump(), s.data);
    ExpectCleanFailure(dir, {"model.safetensors", victim, "F99"});
    fs::remove_all(dir);
  }
}

TEST_CASE("quantize: duplicate tensor names", "[cli]") {
  Safetensors s = LoadShakespeare();
  const std::string name = "model.norm.weight";
  // JSON objects cannot hold a key twice, so the duplicate is spliced into the text.
  std::string text = s.header.dump();
  const std::string entry = "\"" + name + "\":" + s.header[name].dump() + ",";
  text.insert(1, entry);
  const std::string dir = MakeModelDir("dup");
  WriteSafetensors(dir + "/model.safetensors", text, s.data);
  ExpectCleanFailure(dir, {"model.safetensors", name});
  fs::remove_all(dir);
}

TEST_CASE("quantize: NaN and Inf weights name the tensor", "[cli]") {
  for (float bad : {std::nanf(""), INFINITY}) {
    Safetensors s = LoadShakespeare();
    const std::string victim = "model.layers.3.mlp.up_proj.weight";
    const uint64_t begin = s.header[victim]["data_offsets"][0];
    std::memcpy(&s.data[begin + 4 * 777], &bad, 4);
    const std::string dir = MakeModelDir("nan");
    WriteSafetensors(dir + "/model.safetensors", s.header.dump(), s.data);
    ExpectCleanFailure(dir, {"model.safetensors", "blk.3.ffn_up.weight", "non-finite"});
    fs::remove_all(dir);
  }
}

TEST_CASE("quantize: bad arguments and missing model", "[cli]") {
  const std::string dir = testing::MakeTempDir("args");
  RunResult r = RunShardq("quantize --model " + dir + "/nope --out " + dir + "/o.gguf");
  REQUIRE(r.exit_code != 0);
  REQUIRE_THAT(r.output, Catch::Contains(dir + "/nope"));
  r = RunShardq("quantize --model " + testing::SharedPath("models/shakespeare-5m") + " --out " + dir +
                "/o.gguf --type Q4_K_X");
  REQUIRE(r.exit_code != 0);
  REQUIRE_THAT(r.output, Catch::Contains("Q4_K_X"));
  // An output "directory" that is a file: refused before any work, naming it.
  const std::string other = testing::MakeTempDir("args-file");
  testing::WriteFileBytes(other + "/not-a-dir", {1, 2, 3});
  r = RunShardq("quantize --model " + testing::SharedPath("models/shakespeare-5m") + " --out " + other +
                "/not-a-dir/o.gguf");
  REQUIRE(r.exit_code != 0);
  REQUIRE_THAT(r.output, Catch::Contains("not-a-dir"));
  REQUIRE(fs::is_empty(dir));
  fs::remove_all(dir);
  fs::remove_all(other);
}

TEST_CASE("quantize: a good run prints the table and writes the file", "[cli]") {
  const std::string dir = testing::MakeTempDir("good");
  RunResult r = RunShardq("quantize --model " + testing::SharedPath("models/shakespeare-5m") + " --out " + dir +
                          "/o.gguf --type Q4_K_M --threads 2");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE_THAT(r.output, Catch::Contains("blk.2.attn_v.weight"));
  REQUIRE_THAT(r.output, Catch::Contains("more bits (attn_v)"));
  REQUIRE_THAT(r.output, Catch::Contains("total: 57 tensors"));
  REQUIRE_THAT(r.output, Catch::Contains("output: " + dir + "/o.gguf"));
  // Same size as llama-quantize's Q4_K_M of this model (same types, same layout rules).
  REQUIRE(fs::file_size(dir + "/o.gguf") == fs::file_size(testing::SharedPath("golden/gguf/shakespeare-5m-Q4_K_M.gguf")));
  fs::remove_all(dir);
}
