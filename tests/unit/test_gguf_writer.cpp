// The GGUF writer against fixed bytes, against the GGUF reader, and under
// injected write failures.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "common/gguf_reader.h"
#include "common/gguf_writer.h"
#include "tests/unit/failing_file_system.h"
#include "tests/unit/test_util.h"

using namespace shardq;
namespace fs = std::filesystem;

namespace {

GgufMetadata EveryValueType() {
  GgufMetadata md;
  md.Set("t.u8", GgufValue::U8(250));
  md.Set("t.i8", GgufValue::I8(-7));
  md.Set("t.u16", GgufValue::U16(65000));
  md.Set("t.i16", GgufValue::I16(-30000));
  md.Set("t.u32", GgufValue::U32(4000000000u));
  md.Set("t.i32", GgufValue::I32(-2000000000));
  md.Set("t.f32", GgufValue::F32(0.15625f));
  md.Set("t.bool", GgufValue::Bool(true));
  md.Set("t.str", GgufValue::Str("Hello, GGUF \xc3\xa9"));
  md.Set("t.u64", GgufValue::U64(1ull << 40));
  md.Set("t.i64", GgufValue::I64(-(1ll << 41)));
  md.Set("t.f64", GgufValue::F64(-2.5e-300));
  md.Set("t.arr.i32", GgufValue::Array(GgufValueType::INT32, {GgufValue::I32(1), GgufValue::I32(-2)}));
  md.Set("t.arr.str", GgufValue::Array(GgufValueType::STRING, {GgufValue::Str("a"), GgufValue::Str("")}));
  md.Set("t.arr.f32", GgufValue::Array(GgufValueType::FLOAT32, {GgufValue::F32(1.5f)}));
  md.Set("t.arr.empty", GgufValue::Array(GgufValueType::UINT8, {}));
  md.Set("t.arr.nested",
         GgufValue::Array(GgufValueType::ARRAY,
                          {GgufValue::Array(GgufValueType::UINT16, {GgufValue::U16(3), GgufValue::U16(4)}),
                           GgufValue::Array(GgufValueType::UINT16, {})}));
  return md;
}

using testing::FailingFileSystem;

}  // namespace

TEST_CASE("GGUF writer: header bytes of a minimal file are as the spec lays them out", "[gguf_writer]") {
  const std::string dir = testing::MakeTempDir("gguf-bytes");
  const std::string path = dir + "/tiny.gguf";
  GgufMetadata md;
  md.Set("a", GgufValue::U32(7));
  const float data[2] = {1.0f, -2.0f};
  auto w = GgufWriter::Create(path, md, {{"x", {2}, GgmlType::F32}});
  REQUIRE(w.ok());
  REQUIRE((*w)->WriteTensor(0, data, sizeof(data)).ok());
  REQUIRE((*w)->Finish().ok());

  std::vector<uint8_t> expect = {
      'G', 'G', 'U', 'F', 3, 0, 0, 0,  // magic, version 3
      1, 0, 0, 0, 0, 0, 0, 0,          // 1 tensor
      1, 0, 0, 0, 0, 0, 0, 0,          // 1 key
      1, 0, 0, 0, 0, 0, 0, 0, 'a',     // key "a"
      4, 0, 0, 0, 7, 0, 0, 0,          // u32 7
      1, 0, 0, 0, 0, 0, 0, 0, 'x',     // tensor name "x"
      1, 0, 0, 0,                      // 1 dim
      2, 0, 0, 0, 0, 0, 0, 0,          // ne[0] = 2
      0, 0, 0, 0,                      // F32
      0, 0, 0, 0, 0, 0, 0, 0,          // offset 0
  };
  REQUIRE(expect.size() == 74);
  expect.resize(96, 0);  // padding to the 32-byte alignment
  const uint8_t one[4] = {0x00, 0x00, 0x80, 0x3f}, minus_two[4] = {0x00, 0x00, 0x00, 0xc0};
  expect.insert(expect.end(), one, one + 4);
  expect.insert(expect.end(), minus_two, minus_two + 4);
  expect.resize(128, 0);  // tensor data padded to the alignment too
  REQUIRE(testing::ReadFileBytes(path) == expect);
  fs::remove_all(dir);
}

TEST_CASE("GGUF writer: every metadata type and tensor bytes survive a read back", "[gguf_writer]") {
  const std::string dir = testing::MakeTempDir("gguf-roundtrip");
  const std::string path = dir + "/all.gguf";
  const GgufMetadata md = EveryValueType();
  std::vector<float> a(3 * 64), b(7);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.01f * static_cast<float>(i) - 1.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i * i);
  std::vector<uint16_t> a16(a.size());
  {
    auto w = GgufWriter::Create(path, md, {{"w.a", {3, 64}, GgmlType::F16}, {"w.b", {7}, GgmlType::F32}});
    REQUIRE(w.ok());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = 0x3c00 + static_cast<uint16_t>(i);  // arbitrary halves
    REQUIRE((*w)->WriteTensor(0, a16.data(), a16.size() * 2).ok());
    REQUIRE((*w)->WriteTensor(1, b.data(), b.size() * 4).ok());
    REQUIRE((*w)->Finish().ok());
  }
  auto f = GgufFile::Open(path);
  REQUIRE(f.ok());
  REQUIRE((*f)->version() == 3);
  REQUIRE((*f)->metadata().size() == md.size());
  for (size_t i = 0; i < md.size(); ++i) {
    INFO(md.entries()[i].first);
    REQUIRE((*f)->metadata().entries()[i].first == md.entries()[i].first);
    REQUIRE((*f)->metadata().entries()[i].second == md.entries()[i].second);
  }
  const auto& ts = (*f)->tensors();
  REQUIRE(ts.size() == 2);
  REQUIRE(ts[0].name == "w.a");
  REQUIRE(ts[0].shape == std::vector<int64_t>{3, 64});
  REQUIRE(ts[0].type == GgmlType::F16);
  REQUIRE(ts[1].shape == std::vector<int64_t>{7});
  REQUIRE((*f)->data_offset() % 32 == 0);
  for (const auto& t : ts) REQUIRE((t.offset - (*f)->data_offset()) % 32 == 0);
  auto ra = (*f)->RawBytes(ts[0]);
  REQUIRE(ra.ok());
  REQUIRE(std::memcmp(ra->data, a16.data(), a16.size() * 2) == 0);
  auto rb = (*f)->RawBytes(ts[1]);
  REQUIRE(rb.ok());
  REQUIRE(std::memcmp(rb->data, b.data(), b.size() * 4) == 0);
  fs::remove_all(dir);
}

TEST_CASE("GGUF writer: bad declarations are refused before anything is written", "[gguf_writer]") {
  const std::string dir = testing::MakeTempDir("gguf-bad");
  const std::string path = dir + "/bad.gguf";
  GgufMetadata md;
  auto dup = GgufWriter::Create(path, md, {{"x", {4}, GgmlType::F32}, {"x", {4}, GgmlType::F32}});
  REQUIRE_FALSE(dup.ok());
  REQUIRE_THAT(dup.status().message(), Catch::Contains("duplicate tensor name 'x'"));
  auto mixed = GgufMetadata();
  mixed.Set("k", GgufValue::Array(GgufValueType::INT32, {GgufValue::U8(1)}));
  auto bad_arr = GgufWriter::Create(path, mixed, {});
  REQUIRE_FALSE(bad_arr.ok());
  REQUIRE_THAT(bad_arr.status().message(), Catch::Contains("'k'"));
  REQUIRE_FALSE(fs::exists(path));
  REQUIRE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST_CASE("GGUF writer: a failed write leaves no file at the output path and no temp file",
          "[gguf_writer]") {
  const std::string dir = testing::MakeTempDir("gguf-fail");
  const std::string path = dir + "/out.gguf";
  std::vector<float> big(100000, 0.5f);
  FailingFileSystem failing(200000);  // header fits; the tensor does not
  GgufWriter::Options opt;
  opt.fs = &failing;
  {
    auto w = GgufWriter::Create(path, GgufMetadata(), {{"t", {100000}, GgmlType::F32}}, opt);
    REQUIRE(w.ok());
    Status st = (*w)->WriteTensor(0, big.data(), big.size() * 4);
    REQUIRE_FALSE(st.ok());
    REQUIRE_THAT(st.message(), Catch::Contains("disk full"));
    REQUIRE_FALSE((*w)->Finish().ok());
  }
  REQUIRE_FALSE(fs::exists(path));
  REQUIRE(fs::is_empty(dir));

  // An unfinished writer (error elsewhere, early return) also cleans up.
  {
    auto w = GgufWriter::Create(path, GgufMetadata(), {{"t", {4}, GgmlType::F32}});
    REQUIRE(w.ok());
  }
  REQUIRE(fs::is_empty(dir));
  fs::remove_all(dir);
}
