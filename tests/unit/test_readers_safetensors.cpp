// Safetensors (single and sharded), config.json, HF names and llama2.c inputs,
// good and bad (tag [readers]). Fixtures are written by the tests into temp dirs.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/hf_config.h"
#include "common/hf_tensor_names.h"
#include "common/model.h"
#include "common/safetensors_reader.h"
#include "tests/unit/test_util.h"

using namespace shardq;
using shardq::testing::SharedPath;
namespace fs = std::filesystem;

namespace {

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// header JSON + data -> safetensors bytes (u64 little-endian header length first).
std::string Safetensors(const nlohmann::json& header, const std::string& data) {
  const std::string h = header.dump();
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  return out + h + data;
}

std::string Floats(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

Status OpenStatus(const std::string& path) {
  auto s = SafetensorsSource::Open(path);
  return s.ok() ? Status::OK() : s.status();
}

void ExpectError(const Status& st, Status::Code code, std::vector<std::string> parts) {
  INFO(st.ToString());
  REQUIRE(!st.ok());
  CHECK(st.code() == code);
  for (const auto& p : parts) CHECK(st.message().find(p) != std::string::npos);
}

}  // namespace

TEST_CASE("sharded safetensors (3 shards + index.json) read the same tensors", "[readers]") {
  const std::string src_dir = SharedPath("models/shakespeare-5m");
  auto file = MappedFile::Open(src_dir + "/model.safetensors");
  REQUIRE(file.ok());
  auto infos = ParseSafetensorsHeader(**file);
  REQUIRE(infos.ok());
  REQUIRE(infos->size() == 57);  // 58 header entries, one of them __metadata__

  const std::string dir = shardq::testing::MakeTempDir("readers");
  fs::copy_file(src_dir + "/config.json", dir + "/config.json");
  nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
  const int kShards = 3;
  for (int s = 0; s < kShards; ++s) {
    nlohmann::json header = nlohmann::json::object();
    std::string data;
    const std::string name = "model-0000" + std::to_string(s + 1) + "-of-00003.safetensors";
    // Round-robin, so every shard mixes layers and the order inside shards differs from the source.
    for (size_t i = s; i < infos->size(); i += kShards) {
      const TensorInfo& t = (*infos)[i];
      header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + t.nbytes}}};
      data.append(reinterpret_cast<const char*>((*file)->data() + t.offset), t.nbytes);
      index["weight_map"][t.name] = name;
    }
    WriteFile(dir + "/" + name, Safetensors(header, data));
  }
  WriteFile(dir + "/model.safetensors.index.json", index.dump(2));

  auto sharded = OpenModel(dir);
  INFO(sharded.status().ToString());
  REQUIRE(sharded.ok());
  auto single = OpenModel(src_dir);
  REQUIRE(single.ok());
  REQUIRE(sharded->source->tensors().size() == 57);
  CHECK(!sharded->vocab.has_value());  // no tokenizer.model copied
  for (size_t i = 0; i < single->source->tensors().size(); ++i) {
    const TensorInfo& a = single->source->tensors()[i];
    const TensorInfo& b = sharded->source->tensors()[i];
    INFO(a.name);
    REQUIRE(a.name == b.name);
    CHECK(b.file.find("-of-00003.safetensors") != std::string::npos);
    std::vector<float> x, y;
    REQUIRE(single->source->ReadF32(a, &x).ok());
    REQUIRE(sharded->source->ReadF32(b, &y).ok());
    REQUIRE(x == y);
    sharded->source->Release(b);
  }

  // The index names a tensor its shard does not hold.
  index["weight_map"]["model.extra.weight"] = "model-00001-of-00003.safetensors";
  WriteFile(dir + "/model.safetensors.index.json", index.dump());
  ExpectError(OpenStatus(dir + "/model.safetensors.index.json"), Status::Code::kCorruption,
              {"model.extra.weight", "index.json"});
  // The index points at a shard that does not exist.
  index["weight_map"].erase("model.extra.weight");
  index["weight_map"]["lm_head.weight"] = "missing.safetensors";
  WriteFile(dir + "/model.safetensors.index.json", index.dump());
  ExpectError(OpenStatus(dir + "/model.safetensors.index.json"), Status::Code::kNotFound, {"missing.safetensors"});
  fs::remove_all(dir);
}

TEST_CASE("safetensors bad inputs are clear errors naming the file and tensor", "[readers]") {
  const std::string dir = shardq::testing::MakeTempDir("readers");
  const std::string p = dir + "/bad.safetensors";
  auto try_bytes = [&](const std::string& bytes) {
    WriteFile(p, bytes);
    return OpenStatus(p);
  };
  auto entry = [](const char* dtype, std::vector<int64_t> shape, uint64_t b, uint64_t e) {
    return nlohmann::json{{"dtype", dtype}, {"shape", shape}, {"data_offsets", {b, e}}};
  };
  const std::string four = Floats({1, 2, 3, 4});

  ExpectError(try_bytes("abc"), Status::Code::kCorruption, {"bad.safetensors", "too short"});
  {
    std::string s = Safetensors({{"w", entry("F32", {4}, 0, 16)}}, four);
    const uint64_t huge = 1ull << 40;
    std::memcpy(s.data(), &huge, 8);
    ExpectError(try_bytes(s), Status::Code::kCorruption, {"bad.safetensors", "header length", "past the end"});
    ExpectError(try_bytes(s.substr(0, s.size() - 3) ), Status::Code::kCorruption, {"bad.safetensors"});
  }
  // Truncated data: the last tensor's offsets run past the file.
  ExpectError(try_bytes(Safetensors({{"w", entry("F32", {4}, 0, 16)}}, four.substr(0, 12))),
              Status::Code::kCorruption, {"bad.safetensors", "tensor 'w'", "past the end"});
  ExpectError(try_bytes(std::string("\x05\0\0\0\0\0\0\0{\"a\":", 13)), Status::Code::kCorruption,
              {"bad.safetensors", "not valid JSON"});
  ExpectError(try_bytes(Safetensors({{"w", entry("Q9", {4}, 0, 16)}}, four)), Status::Code::kUnsupported,
              {"bad.safetensors", "tensor 'w'", "dtype 'Q9'"});
  ExpectError(try_bytes(Safetensors({{"w", entry("F32", {2, 3}, 0, 16)}}, four)), Status::Code::kCorruption,
              {"tensor 'w'", "[2, 3]", "needs 24 bytes", "give 16"});
  ExpectError(try_bytes(Safetensors({{"w", entry("F32", {4}, 0, 16)}, {"v", entry("F16", {4}, 8, 16)}}, four)),
              Status::Code::kCorruption, {"bad.safetensors", "overlaps", "'w'", "'v'"});
  ExpectError(try_bytes(Safetensors({{"w", entry("F32", {4}, 16, 32)}}, four)), Status::Code::kCorruption,
              {"tensor 'w'", "past the end"});
  {
    // nlohmann::json cannot hold the same key twice, so write that header by hand.
    const std::string h = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
    std::string s(8, '\0');
    const uint64_t n = h.size();
    std::memcpy(s.data(), &n, 8);
    ExpectError(try_bytes(s + h + four), Status::Code::kCorruption, {"bad.safetensors", "duplicate tensor name 'w'"});
  }
  ExpectError(OpenStatus(dir + "/absent.safetensors"), Status::Code::kNotFound, {"absent.safetensors"});

  // A valid file reads back; BF16 / F16 decode through the block format table.
  const uint16_t bf16[2] = {0x3f80, 0xc000};  // 1.0, -2.0
  const uint16_t f16[2] = {0x3c00, 0x4200};   // 1.0, 3.0
  std::string data(reinterpret_cast<const char*>(bf16), 4);
  data.append(reinterpret_cast<const char*>(f16), 4);
  REQUIRE(try_bytes(Safetensors({{"b", entry("BF16", {2}, 0, 4)}, {"h", entry("F16", {1, 2}, 4, 8)},
                                 {"__metadata__", {{"format", "pt"}}}},
                                data)).ok());
  auto src = SafetensorsSource::Open(p);
  REQUIRE(src.ok());
  std::vector<float> out;
  REQUIRE((*src)->ReadF32(*(*src)->Find("b"), &out).ok());
  CHECK(out == std::vector<float>{1.0f, -2.0f});
  REQUIRE((*src)->ReadF32(*(*src)->Find("h"), &out).ok());
  CHECK(out == std::vector<float>{1.0f, 3.0f});
  fs::remove_all(dir);
}

TEST_CASE("config.json: fields, defaults and errors naming the field", "[readers]") {
  auto c = ParseHfConfig(R"({"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2,
      "num_attention_heads": 8, "vocab_size": 10, "max_position_embeddings": 128,
      "eos_token_id": [7, 8], "rope_theta": 500000.0})", "x/config.json");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->n_kv_heads == 8);  // defaults to the head count
  CHECK(c->eos_token_id == 7);
  CHECK(c->bos_token_id == 1);
  CHECK(c->rope_theta == 500000.0);
  CHECK(c->rms_norm_eps == 1e-5);
  CHECK(!c->tied_embeddings);

  auto missing = ParseHfConfig(R"({"hidden_size": 64})", "x/config.json");
  REQUIRE(!missing.ok());
  CHECK(missing.status().message() == "x/config.json: missing field 'intermediate_size'");
  auto wrong = ParseHfConfig(R"({"hidden_size": "64"})", "x/config.json");
  REQUIRE(!wrong.ok());
  CHECK(wrong.status().message().find("field 'hidden_size' must be a positive integer") != std::string::npos);
  auto garbage = LoadHfConfig("/nonexistent/config.json");
  CHECK(garbage.status().code() == Status::Code::kNotFound);

  const std::string dir = shardq::testing::MakeTempDir("readers");
  std::ifstream in(SharedPath("models/stories260K/config.json"));
  nlohmann::json j = nlohmann::json::parse(in);
  j.erase("num_hidden_layers");
  WriteFile(dir + "/config.json", j.dump());
  fs::copy_file(SharedPath("models/stories260K/model.safetensors"), dir + "/model.safetensors");
  auto m = OpenModel(dir);
  REQUIRE(!m.ok());
  CHECK(m.status().message().find("config.json: missing field 'num_hidden_layers'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("HF tensor names map to GGUF names and unknown names are errors", "[readers]") {
  CHECK(*HfToGgufTensorName("model.embed_tokens.weight") == "token_embd.weight");
  CHECK(*HfToGgufTensorName("model.layers.11.self_attn.o_proj.weight") == "blk.11.attn_output.weight");
  CHECK(*HfToGgufTensorName("model.layers.0.mlp.down_proj.weight") == "blk.0.ffn_down.weight");
  CHECK(*HfToGgufTensorName("model.layers.3.post_attention_layernorm.weight") == "blk.3.ffn_norm.weight");
  CHECK(*HfToGgufTensorName("model.norm.weight") == "output_norm.weight");
  CHECK(*HfToGgufTensorName("lm_head.weight") == "output.weight");
  auto bad = HfToGgufTensorName("model.layers.x.mlp.up_proj.weight");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message() == "tensor 'model.layers.x.mlp.up_proj.weight': not a known Llama tensor name");

  // A folder whose safetensors holds an unknown tensor: the error names file and tensor.
  const std::string dir = shardq::testing::MakeTempDir("readers");
  fs::copy_file(SharedPath("models/stories260K/config.json"), dir + "/config.json");
  WriteFile(dir + "/model.safetensors",
            Safetensors({{"vision.proj.weight", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}}},
                        Floats({1, 2, 3, 4})));
  auto m = OpenModel(dir);
  REQUIRE(!m.ok());
  CHECK(m.status().message().find("model.safetensors") != std::string::npos);
  CHECK(m.status().message().find("tensor 'vision.proj.weight'") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("llama2.c: truncated checkpoint and tokenizer are errors", "[readers]") {
  const std::string dir = shardq::testing::MakeTempDir("readers");
  auto bytes = shardq::testing::ReadFileBytes(SharedPath("models/stories260K/stories260K.bin"));
  REQUIRE(bytes.size() == 1056540);
  WriteFile(dir + "/m.bin", std::string(bytes.begin(), bytes.end() - 100));
  auto m = OpenModel(dir + "/m.bin");
  REQUIRE(!m.ok());
  CHECK(m.status().message().find("m.bin") != std::string::npos);
  CHECK(m.status().message().find("implies 1056540 bytes, the file has 1056440") != std::string::npos);

  WriteFile(dir + "/short.bin", std::string(10, '\0'));
  auto s = OpenModel(dir + "/short.bin");
  REQUIRE(!s.ok());
  CHECK(s.status().message().find("too short") != std::string::npos);

  // A good checkpoint with a truncated tokenizer beside it.
  WriteFile(dir + "/m.bin", std::string(bytes.begin(), bytes.end()));
  auto tok = shardq::testing::ReadFileBytes(SharedPath("models/stories260K/tok512.bin"));
  WriteFile(dir + "/tokenizer.bin", std::string(tok.begin(), tok.begin() + 1000));
  auto t = OpenModel(dir + "/m.bin");
  REQUIRE(!t.ok());
  CHECK(t.status().message().find("tokenizer.bin") != std::string::npos);
  CHECK(t.status().message().find("truncated") != std::string::npos);
  fs::remove_all(dir);
}
