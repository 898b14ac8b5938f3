// GGUF reading from hand-made bytes: every metadata type, nested arrays,
// alignment, tensor infos, and each kind of corruption (tag [readers]).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/gguf_config.h"
#include "common/gguf_reader.h"
#include "common/gguf_vocab.h"
#include "tests/unit/test_util.h"

using namespace shardq;

namespace {

// Little-endian byte builder for GGUF fixtures, written from the spec.
struct Bytes {
  std::string b;
  template <typename T>
  Bytes& Put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Bytes& Str(const std::string& s) {
    Put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  Bytes& Key(const std::string& k, GgufValueType t) {
    Str(k);
    return Put<uint32_t>(static_cast<uint32_t>(t));
  }
  void PadTo(size_t a) {
    while (b.size() % a) b.push_back('\0');
  }
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> ne;  // fastest first
  uint32_t type;
  uint64_t offset;
};

// A GGUF v3 with `kv` (already encoded key/values, n_kv of them), the tensor
// infos and `data` as the data section (aligned to `align`).
std::string MakeGguf(uint64_t n_kv, const std::string& kv, const std::vector<TensorSpec>& ts,
                     const std::string& data, size_t align = 32, uint32_t version = 3) {
  Bytes f;
  f.b = "GGUF";
  f.Put<uint32_t>(version).Put<uint64_t>(ts.size()).Put<uint64_t>(n_kv);
  f.b += kv;
  for (const auto& t : ts) {
    f.Str(t.name).Put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) f.Put<uint64_t>(d);
    f.Put<uint32_t>(t.type).Put<uint64_t>(t.offset);
  }
  f.PadTo(align);
  f.b += data;
  return f.b;
}

std::string WriteTemp(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string p = dir + "/" + name;
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p;
}

// The "everything" fixture: all 13 value types, a nested array, alignment 64,
// an F32 tensor and a Q8_0 tensor.
std::string AllTypesGguf() {
  Bytes kv;
  kv.Key("u8", GgufValueType::UINT8).Put<uint8_t>(200);
  kv.Key("i8", GgufValueType::INT8).Put<int8_t>(-100);
  kv.Key("u16", GgufValueType::UINT16).Put<uint16_t>(60000);
  kv.Key("i16", GgufValueType::INT16).Put<int16_t>(-30000);
  kv.Key("u32", GgufValueType::UINT32).Put<uint32_t>(4000000000u);
  kv.Key("i32", GgufValueType::INT32).Put<int32_t>(-2000000000);
  kv.Key("f32", GgufValueType::FLOAT32).Put<float>(0.25f);
  kv.Key("bool", GgufValueType::BOOL).Put<uint8_t>(1);
  kv.Key("str", GgufValueType::STRING).Str("h\xC3\xA9llo");
  kv.Key("u64", GgufValueType::UINT64).Put<uint64_t>(18000000000000000000ull);
  kv.Key("i64", GgufValueType::INT64).Put<int64_t>(-9000000000000000000ll);
  kv.Key("f64", GgufValueType::FLOAT64).Put<double>(-1.5e300);
  kv.Key("arr.str", GgufValueType::ARRAY).Put<uint32_t>(8).Put<uint64_t>(2).Str("a").Str("");
  // [[1, -2], [], [3]] as i16
  kv.Key("arr.nested", GgufValueType::ARRAY).Put<uint32_t>(9).Put<uint64_t>(3);
  kv.Put<uint32_t>(3).Put<uint64_t>(2).Put<int16_t>(1).Put<int16_t>(-2);
  kv.Put<uint32_t>(3).Put<uint64_t>(0);
  kv.Put<uint32_t>(3).Put<uint64_t>(1).Put<int16_t>(3);
  kv.Key("general.alignment", GgufValueType::UINT32).Put<uint32_t>(64);
  std::string data(64 + 34, '\0');
  const float f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::memcpy(data.data(), f, sizeof(f));
  return MakeGguf(15, kv.b, {{"w", {4, 2}, 0, 0}, {"q", {32, 1}, 8, 64}}, data, 64);
}

}  // namespace

TEST_CASE("GGUF reader decodes all 13 value types, nested arrays and tensor infos", "[readers]") {
  const std::string dir = shardq::testing::MakeTempDir("readers");
  auto g = GgufFile::Open(WriteTemp(dir, "all.gguf", AllTypesGguf()));
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  const GgufMetadata& md = (*g)->metadata();
  REQUIRE(md.size() == 15);
  CHECK(*md.Find("u8") == GgufValue::U8(200));
  CHECK(*md.Find("i8") == GgufValue::I8(-100));
  CHECK(*md.Find("u16") == GgufValue::U16(60000));
  CHECK(*md.Find("i16") == GgufValue::I16(-30000));
  CHECK(*md.Find("u32") == GgufValue::U32(4000000000u));
  CHECK(*md.Find("i32") == GgufValue::I32(-2000000000));
  CHECK(*md.Find("f32") == GgufValue::F32(0.25f));
  CHECK(*md.Find("bool") == GgufValue::Bool(true));
  CHECK(*md.Find("str") == GgufValue::Str("h\xC3\xA9llo"));
  CHECK(*md.Find("u64") == GgufValue::U64(18000000000000000000ull));
  CHECK(*md.Find("i64") == GgufValue::I64(-9000000000000000000ll));
  CHECK(*md.Find("f64") == GgufValue::F64(-1.5e300));
  CHECK(*md.Find("arr.str") ==
        GgufValue::Array(GgufValueType::STRING, {GgufValue::Str("a"), GgufValue::Str("")}));
  const GgufValue nested = GgufValue::Array(
      GgufValueType::ARRAY,
      {GgufValue::Array(GgufValueType::INT16, {GgufValue::I16(1), GgufValue::I16(-2)}),
       GgufValue::Array(GgufValueType::INT16, {}),
       GgufValue::Array(GgufValueType::INT16, {GgufValue::I16(3)})});
  CHECK(*md.Find("arr.nested") == nested);
  // Insertion order is kept.
  CHECK(md.entries().front().first == "u8");
  CHECK(md.entries().back().first == "general.alignment");

  CHECK((*g)->version() == 3);
  CHECK((*g)->alignment() == 64);
  CHECK((*g)->data_offset() % 64 == 0);
  REQUIRE((*g)->tensors().size() == 2);
  const TensorInfo& w = (*g)->tensors()[0];
  CHECK(w.name == "w");
  CHECK(w.shape == std::vector<int64_t>{2, 4});  // ne {4, 2} reversed
  CHECK(w.type == GgmlType::F32);
  CHECK(w.offset == (*g)->data_offset());
  CHECK(w.nbytes == 32);
  const TensorInfo& q = (*g)->tensors()[1];
  CHECK(q.type == GgmlType::Q8_0);
  CHECK(q.shape == std::vector<int64_t>{1, 32});
  CHECK(q.nbytes == 34);
  CHECK(q.offset == (*g)->data_offset() + 64);
  std::vector<float> out;
  REQUIRE((*g)->ReadF32(w, &out).ok());
  CHECK(out == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});

  // Version 2 has the same layout.
  std::string v2 = AllTypesGguf();
  v2[4] = 2;
  auto g2 = GgufFile::Open(WriteTemp(dir, "v2.gguf", v2));
  REQUIRE(g2.ok());
  CHECK((*g2)->version() == 2);
  std::filesystem::remove_all(dir);
}

TEST_CASE("GGUF reader: every truncation of a valid file is an error, never a crash", "[readers]") {
  const std::string dir = shardq::testing::MakeTempDir("readers");
  const std::string full = AllTypesGguf();
  for (size_t n = 0; n < full.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    auto g = GgufFile::Open(WriteTemp(dir, "cut.gguf", full.substr(0, n)));
    REQUIRE(!g.ok());
    CHECK(g.status().code() == Status::Code::kCorruption);
    CHECK(g.status().message().find("cut.gguf") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("GGUF reader rejects corrupt headers with the file, tensor and reason", "[readers]") {
  const std::string dir = shardq::testing::MakeTempDir("readers");
  const std::string f32x8(32, '\0');
  auto open = [&](const std::string& bytes) { return GgufFile::Open(WriteTemp(dir, "bad.gguf", bytes)); };
  auto expect = [&](const Result<std::unique_ptr<GgufFile>>& r, Status::Code code,
                    std::vector<std::string> parts) {
    INFO(r.status().ToString());
    REQUIRE(!r.ok());
    CHECK(r.status().code() == code);
    parts.push_back("bad.gguf");
    for (const auto& p : parts) CHECK(r.status().message().find(p) != std::string::npos);
  };

  std::string bad_magic = MakeGguf(0, "", {}, "");
  bad_magic[0] = 'X';
  expect(open(bad_magic), Status::Code::kCorruption, {"bad magic"});
  expect(open(MakeGguf(0, "", {}, "", 32, 1)), Status::Code::kUnsupported, {"version 1"});

  // A string length far past the end of the file.
  Bytes kv;
  kv.Put<uint64_t>(1ull << 40).b += "k";
  expect(open(MakeGguf(1, kv.b, {}, "")), Status::Code::kCorruption, {"past the end"});
  // An array count that cannot fit.
  Bytes arr;
  arr.Key("a", GgufValueType::ARRAY).Put<uint32_t>(4).Put<uint64_t>(1ull << 50);
  expect(open(MakeGguf(1, arr.b, {}, "")), Status::Code::kCorruption, {"'a'", "array"});
  Bytes badtype;
  badtype.Key("k", static_cast<GgufValueType>(13)).Put<uint32_t>(0);
  expect(open(MakeGguf(1, badtype.b, {}, "")), Status::Code::kCorruption, {"'k'", "unknown value type 13"});
  Bytes dupkey;
  dupkey.Key("k", GgufValueType::UINT8).Put<uint8_t>(1).Key("k", GgufValueType::UINT8).Put<uint8_t>(2);
  expect(open(MakeGguf(2, dupkey.b, {}, "")), Status::Code::kCorruption, {"duplicate metadata key 'k'"});
  Bytes align;
  align.Key("general.alignment", GgufValueType::UINT32).Put<uint32_t>(48);
  expect(open(MakeGguf(1, align.b, {}, "")), Status::Code::kCorruption, {"general.alignment"});

  expect(open(MakeGguf(0, "", {{"w", {8}, 99, 0}}, f32x8)), Status::Code::kUnsupported,
         {"tensor 'w'", "unknown ggml type id 99"});
  expect(open(MakeGguf(0, "", {{"w", {8}, 0, 64}}, f32x8)), Status::Code::kCorruption,
         {"tensor 'w'", "past its end"});
  expect(open(MakeGguf(0, "", {{"w", {8}, 0, 0}, {"v", {8}, 0, 0}}, f32x8)), Status::Code::kCorruption,
         {"overlaps", "'w'", "'v'"});
  expect(open(MakeGguf(0, "", {{"w", {4}, 0, 0}, {"w", {4}, 0, 32}}, f32x8 + f32x8)),
         Status::Code::kCorruption, {"duplicate tensor name 'w'"});
  expect(open(MakeGguf(0, "", {{"w", {4}, 0, 16}}, f32x8)), Status::Code::kCorruption,
         {"tensor 'w'", "alignment"});
  expect(open(MakeGguf(0, "", {{"w", {33}, 8, 0}}, std::string(64, '\0'))), Status::Code::kCorruption,
         {"tensor 'w'", "block size 32"});
  expect(open(MakeGguf(0, "", {{"w", {1, 1, 1, 1, 1}, 0, 0}}, f32x8)), Status::Code::kCorruption,
         {"tensor 'w'", "5 dimensions"});
  std::filesystem::remove_all(dir);
}

TEST_CASE("ReadF32 reports NaN/Inf with the file, tensor and position", "[readers]") {
  const std::string dir = shardq::testing::MakeTempDir("readers");
  float vals[8] = {0, 1, 2, 3, 4, 5, std::nanf(""), 7};
  std::string data(reinterpret_cast<const char*>(vals), sizeof(vals));
  vals[6] = 6;
  vals[1] = INFINITY;
  std::string data_inf(reinterpret_cast<const char*>(vals), sizeof(vals));
  const std::pair<std::string, const char*> cases[] = {{data, "nan at row 1, column 2"},
                                                       {data_inf, "inf at row 0, column 1"}};
  for (const auto& [d, where] : cases) {
    auto g = GgufFile::Open(WriteTemp(dir, "nan.gguf", MakeGguf(0, "", {{"w", {4, 2}, 0, 0}}, d)));
    REQUIRE(g.ok());
    std::vector<float> out;
    Status st = (*g)->ReadF32((*g)->tensors()[0], &out);
    INFO(st.ToString());
    REQUIRE(!st.ok());
    CHECK(st.message().find("nan.gguf") != std::string::npos);
    CHECK(st.message().find("tensor 'w'") != std::string::npos);
    CHECK(st.message().find(where) != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Config and vocab survive a round trip through GGUF metadata", "[readers]") {
  LlamaConfig c;
  c.name = "tiny";
  c.dim = 64;
  c.hidden_dim = 172;
  c.n_layers = 5;
  c.n_heads = 8;
  c.n_kv_heads = 4;
  c.vocab_size = 3;
  c.context_length = 512;
  c.rms_norm_eps = 1e-5f;
  c.rope_theta = 500000;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  Vocab v;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.scores = {0, -1.5f, 2};
  v.types = {2, 3, 3};
  v.add_eos = true;
  v.add_space_prefix = false;
  GgufMetadata md;
  ConfigToGgufMetadata(c, &md);
  VocabToGgufMetadata(v, &md);
  CHECK(md.Find("llama.rope.dimension_count")->u == 8);
  CHECK(md.Find("llama.embedding_length")->type == GgufValueType::UINT32);
  CHECK(md.Find("tokenizer.ggml.token_type")->array_type == GgufValueType::INT32);
  auto c2 = ConfigFromGgufMetadata(md, "m");
  REQUIRE(c2.ok());
  CHECK(c2->name == "tiny");
  CHECK(c2->dim == 64);
  CHECK(c2->hidden_dim == 172);
  CHECK(c2->n_layers == 5);
  CHECK(c2->n_heads == 8);
  CHECK(c2->n_kv_heads == 4);
  CHECK(c2->vocab_size == 3);
  CHECK(c2->context_length == 512);
  CHECK(static_cast<float>(c2->rms_norm_eps) == 1e-5f);
  CHECK(c2->rope_theta == 500000);
  auto v2 = VocabFromGgufMetadata(md, "m");
  REQUIRE(v2.ok());
  CHECK(v2->tokens == v.tokens);
  CHECK(v2->scores == v.scores);
  CHECK(v2->types == v.types);
  CHECK(v2->add_eos);
  CHECK(!v2->add_space_prefix);

  md.Erase("llama.block_count");
  auto bad = ConfigFromGgufMetadata(md, "m.gguf");
  REQUIRE(!bad.ok());
  CHECK(bad.status().message() == "m.gguf: missing metadata key 'llama.block_count'");
}
