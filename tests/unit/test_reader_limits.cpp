// Counts, lengths and offsets read from a file or message are checked against
// what it can hold before anything is allocated (issue 9, item 3), and inputs
// the fuzzers (tests/fuzz) found fail with a Status instead of crashing
// (tag [limits]). Each case would exhaust memory, time or the bounds of a
// buffer without its check; "quickly" is asserted where time is the symptom.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "common/gguf_reader.h"
#include "common/gguf_value.h"
#include "common/hf_tokenizer_json.h"
#include "common/job_spec.h"
#include "common/llama2c_reader.h"
#include "common/safetensors_reader.h"
#include "runtime/job_messages.h"
#include "coordinator/store/state_records.h"
#include "tests/unit/test_util.h"

using namespace shardq;
using shardq::testing::ReadFileBytes;
using shardq::testing::SharedPath;
using shardq::testing::WriteFileBytes;

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void ExpectMessage(const Status& st, const std::vector<std::string>& parts) {
  INFO(st.ToString());
  REQUIRE_FALSE(st.ok());
  for (const auto& p : parts) CHECK(st.message().find(p) != std::string::npos);
}

std::string TempPath(const std::string& name) { return testing::MakeTempDir("limits") + "/" + name; }

template <typename T>
void Put(std::string* b, T v) {
  b->append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void PutStr(std::string* b, const std::string& s) {
  Put<uint64_t>(b, s.size());
  *b += s;
}

// A GGUF v3 header with no tensors and `n_kv` encoded key/values.
std::string GgufWithMetadata(uint64_t n_kv, const std::string& kv) {
  std::string b = "GGUF";
  Put<uint32_t>(&b, 3);
  Put<uint64_t>(&b, 0);
  Put<uint64_t>(&b, n_kv);
  return b + kv;
}

void WriteString(const std::string& path, const std::string& s) {
  WriteFileBytes(path, std::vector<uint8_t>(s.begin(), s.end()));
}

}  // namespace

TEST_CASE("llama2.c: n_layers = 2^24 fails at once, naming the field", "[limits]") {
  // The issue's reproducer: stories260K.bin with n_layers (the int32 at byte 8)
  // patched. The reader used to list 9 x 2^24 tensors before comparing the
  // header with the file's size: 24 GB, then std::bad_alloc.
  std::vector<uint8_t> bin = ReadFileBytes(SharedPath("models/stories260K/stories260K.bin"));
  REQUIRE(bin.size() > 28);
  const int32_t layers = 1 << 24;
  std::memcpy(bin.data() + 8, &layers, 4);
  const std::string path = TempPath("layers.bin");
  WriteFileBytes(path, bin);

  const auto t0 = Clock::now();
  auto ck = OpenLlama2c(path);
  CHECK(SecondsSince(t0) < 2.0);
  ExpectMessage(ck.status(), {path, "n_layers", "16777216"});
}

TEST_CASE("llama2.c: a header whose sizes overflow 64 bits is a size mismatch", "[limits]") {
  // dim = hidden = 2^24, 2^16 layers: the stacked arrays alone are 2^74 bytes,
  // which wrapped around in 64-bit arithmetic.
  std::vector<uint8_t> bin = ReadFileBytes(SharedPath("models/stories260K/stories260K.bin"));
  const int32_t h[7] = {1 << 24, 1 << 24, 1 << 16, 1, 1, 512, 1};
  std::memcpy(bin.data(), h, sizeof(h));
  const std::string path = TempPath("huge.bin");
  WriteFileBytes(path, bin);
  const auto t0 = Clock::now();
  auto ck = OpenLlama2c(path);
  CHECK(SecondsSince(t0) < 2.0);
  ExpectMessage(ck.status(), {path, "implies more than 2^64 bytes", "the file has"});
}

TEST_CASE("llama2.c tokenizer: a vocab_size the file cannot hold is refused before reading", "[limits]") {
  const std::string tok = SharedPath("models/stories260K/tok512.bin");
  auto v = LoadLlama2cTokenizer(tok, int64_t{1} << 40);
  ExpectMessage(v.status(), {tok, "cannot hold", "1099511627776 tokens"});
}

TEST_CASE("GGUF: metadata values are capped, not sized by the file alone", "[limits]") {
  // 9M one-byte u8 elements: 9 MB of file, but ~900 MB of GgufValues.
  const uint64_t n = 9u << 20;
  std::string kv;
  PutStr(&kv, "big");
  Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::ARRAY));
  Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::UINT8));
  Put<uint64_t>(&kv, n);
  kv.append(n, '\1');
  const std::string path = TempPath("values.gguf");
  WriteString(path, GgufWithMetadata(1, kv));
  auto g = GgufFile::Open(path);
  ExpectMessage(g.status(), {path, "key 'big'", "metadata values"});
}

TEST_CASE("GGUF: array counts and string lengths past the end of the file", "[limits]") {
  const std::string path = TempPath("counts.gguf");
  SECTION("array count") {
    std::string kv;
    PutStr(&kv, "arr");
    Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::ARRAY));
    Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::UINT64));
    Put<uint64_t>(&kv, uint64_t{1} << 60);
    WriteString(path, GgufWithMetadata(1, kv));
    ExpectMessage(GgufFile::Open(path).status(), {path, "key 'arr'", "runs past the end of the file"});
  }
  SECTION("string length") {
    std::string kv;
    PutStr(&kv, "s");
    Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::STRING));
    Put<uint64_t>(&kv, ~uint64_t{0});
    WriteString(path, GgufWithMetadata(1, kv));
    ExpectMessage(GgufFile::Open(path).status(), {path, "'s'", "length", "runs past the end of the file"});
  }
  SECTION("key count") {
    WriteString(path, GgufWithMetadata(uint64_t{1} << 40, ""));
    ExpectMessage(GgufFile::Open(path).status(), {path, "metadata count", "cannot fit"});
  }
}

TEST_CASE("GGUF: many keys are read in linear time", "[limits]") {
  // Duplicate keys were found by a linear search per key: 150K keys took
  // ~10^10 string comparisons.
  const int n = 150000;
  std::string kv;
  for (int i = 0; i < n; ++i) {
    PutStr(&kv, "k" + std::to_string(i));
    Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::UINT8));
    kv.push_back('\0');
  }
  const std::string path = TempPath("keys.gguf");
  WriteString(path, GgufWithMetadata(n, kv));
  const auto t0 = Clock::now();
  auto g = GgufFile::Open(path);
  CHECK(SecondsSince(t0) < 10.0);
  INFO(g.status().ToString());
  REQUIRE(g.ok());
  CHECK((*g)->metadata().size() == static_cast<size_t>(n));
}

TEST_CASE("safetensors: a header over 100 MB is refused before it is parsed", "[limits]") {
  // A sparse file: 200 MB long, only the length field written.
  const std::string path = TempPath("big-header.safetensors");
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  REQUIRE(fd >= 0);
  const uint64_t header_len = 150'000'000;
  REQUIRE(::write(fd, &header_len, 8) == 8);
  REQUIRE(::ftruncate(fd, 200'000'000) == 0);
  ::close(fd);
  auto file = MappedFile::Open(path);
  REQUIRE(file.ok());
  ExpectMessage(ParseSafetensorsHeader(**file).status(), {path, "header length 150000000", "more than"});
}

TEST_CASE("job assignment: a short range entry is an error, not an out-of-bounds read", "[limits]") {
  JobAssignment a;
  a.ranges.push_back({1, 0, 3});
  std::vector<uint8_t> bytes = EncodeAssignment(a);
  std::string text(bytes.begin(), bytes.end());
  const std::string full = "[[1,0,3]]";
  const size_t at = text.find(full);
  REQUIRE(at != std::string::npos);
  text.replace(at, full.size(), "[[1]]");
  auto d = DecodeAssignment(std::vector<uint8_t>(text.begin(), text.end()));
  ExpectMessage(d.status(), {"job assignment"});
}

TEST_CASE("worker message: a blob count the message cannot hold ends at its end", "[limits]") {
  std::vector<uint8_t> m = {'U'};
  const int64_t unit = 0;
  const double secs = 0;
  const uint32_t blobs = 0xffffffffu;
  m.insert(m.end(), reinterpret_cast<const uint8_t*>(&unit), reinterpret_cast<const uint8_t*>(&unit) + 8);
  m.insert(m.end(), reinterpret_cast<const uint8_t*>(&secs), reinterpret_cast<const uint8_t*>(&secs) + 8);
  m.insert(m.end(), reinterpret_cast<const uint8_t*>(&blobs), reinterpret_cast<const uint8_t*>(&blobs) + 4);
  const uint64_t len = uint64_t{1} << 50;
  m.insert(m.end(), reinterpret_cast<const uint8_t*>(&len), reinterpret_cast<const uint8_t*>(&len) + 8);
  ExpectMessage(DecodeWorkerMessage(m, 3).status(), {"message from rank 3", "truncated blob"});
}

TEST_CASE("tokenizer.json: token ids are bounded by the entries that name them", "[limits]") {
  // One vocab entry with id 2^24 - 1 sized the piece table to 16M strings
  // (512 MB) before the ids were found not to be dense.
  const std::string doc = R"({"model": {"type": "BPE", "vocab": {"a": 16777215}},
                              "normalizer": {"type": "Replace", "pattern": {"String": " "},
                                             "content": "\u2581"}})";
  auto t = ParseHfTokenizerJson(doc, "tokenizer.json");
  ExpectMessage(t.status(), {"tokenizer.json", "'a'", "id 16777215 out of range (1 tokens named)"});
}

TEST_CASE("job assignment and state records: a float where an integer belongs is an error", "[limits]") {
  // get<int>() cast 1e300 to int: undefined behaviour (UBSan: float-cast-overflow).
  JobAssignment a;
  a.threads = 2;
  std::vector<uint8_t> bytes = EncodeAssignment(a);
  std::string text(bytes.begin(), bytes.end());
  const size_t at = text.find("\"threads\":2");
  REQUIRE(at != std::string::npos);
  text.replace(at, 11, "\"threads\":1e300");
  ExpectMessage(DecodeAssignment(std::vector<uint8_t>(text.begin(), text.end())).status(),
                {"job assignment", "threads", "expected an integer"});

  UnitRecord u;
  u.index = 4;
  u.worker_rank = 1;
  auto sealed = EncodeUnitRecord(u, "unit");
  REQUIRE(sealed.ok());
  REQUIRE(DecodeUnitRecord(*sealed, "unit").ok());
  // Re-sealed with the float, so that the checksum is right and the field is what fails.
  nlohmann::json j = nlohmann::json::parse(*sealed);
  j.erase("crc32c");
  j["worker_rank"] = 1e300;
  const std::string body = j.dump();
  j["crc32c"] = Crc32c(body.data(), body.size());
  ExpectMessage(DecodeUnitRecord(j.dump(), "state store: unit 4").status(),
                {"state store: unit 4", "worker_rank", "expected an integer"});
}

TEST_CASE("GGUF: a float general.alignment is an error, NaN included", "[limits]") {
  // Found by fuzz_gguf: the message quoted the value through as_int(), which
  // cast NaN to int64 (undefined behaviour; -9223372036854775808 on x86-64).
  std::string kv;
  PutStr(&kv, "general.alignment");
  Put<uint32_t>(&kv, static_cast<uint32_t>(GgufValueType::FLOAT32));
  Put<float>(&kv, std::numeric_limits<float>::quiet_NaN());
  const std::string path = TempPath("nan-alignment.gguf");
  WriteString(path, GgufWithMetadata(1, kv));
  ExpectMessage(GgufFile::Open(path).status(), {path, "general.alignment must be a u32 power of two, got f32 0"});

  CHECK(GgufValue::F64(1e300).as_int() == std::numeric_limits<int64_t>::max());
  CHECK(GgufValue::F64(-1e300).as_int() == std::numeric_limits<int64_t>::min());
  CHECK(GgufValue::F32(-2.5f).as_int() == -2);
}

// Found by fuzz_job_spec: yaml-cpp's YAML::LoadAll never returned on this input
// (its document loop allocated until the process died). The spec parser reads
// one document and must give an error at once.
TEST_CASE("job spec: the input that hung YAML::LoadAll is an error", "[limits]") {
  const std::string text(
      "\x23\x20\x51\x34\x5f\x4b\x5f\x4d\x20\x6f\x66\x20\x6c\x6c\x61\x6d\x61\x32\x2e\x63\x27\x73\x20\x73"
      "\x74\x6f\x72\x69\x65\x73\x36\x33\x37\x4b\x2c\x20\x70\x6c\x61\x69\x6e\x20\x72\x6f\x75\x6e\x64\x2d"
      "\x74\x6f\x2d\x6e\x65\x61\x72\x65\x73\x74\x2e\x20\x49\x74\x73\x20\x72\x6f\x77\x20\x6c\x65\x6e\x67"
      "\x74\x68\x73\x20\x28\x6c\x61\x6d\x61\x32\x2e\x63\x27\x73\x20\x73\x74\x6f\x72\x69\x65\x73\x36\x33"
      "\x37\x4b\x2c\x20\x70\x6c\x61\x69\x6e\x20\x72\x6f\x75\x6e\x64\x2d\x74\x6f\x2d\x6e\x65\x61\x72\x65"
      "\x73\x74\x2e\x20\x49\x74\x73\x20\x72\x6f\x77\x20\x6c\x65\x6e\x67\x74\x68\x73\x20\x28\x36\x34\x2c"
      "\x0a\x23\x20\x31\x37\x32\x29\x20\x64\x6f\x20\x6e\x6f\x74\x20\x64\x69\x76\x69\x64\x65\x20\x32\x35"
      "\x37\x2c\x20\x73\x6f\x20\x6d\x6f\x73\x74\x20\x74\x65\x20\x66\x69\x74\x2e\x0a\x23\x6d\x6f\x64\x65"
      "\x6c\x31\x32\x6b\x65\x61\x6b\x65\x73\x70\x65\x61\x72\x65\x2d\x35\x6d\x22\x2c\x0a\x20\x20\x22\x36"
      "\x34\x2c\x0a\x23\x20\x31\x37\x32\x29\x20\x64\x6f\x20\x6e\x6f\x74\x20\x64\x69\x76\x69\x64\x65\x20"
      "\x32\x35\x37\x2c\x20\x73\x6f\x20\x6d\x6f\x73\x74\x20\x74\x65\x20\x66\x69\x74\x2e\x0a\x23\x6d\x6f"
      "\x64\x65\x6c\x31\x32\x6b\x65\x61\x6b\x65\x73\x70\x65\x61\x72\x65\x2d\x35\x6d\x22\x2c\x0a\x20\x20"
      "\x22\x6f\x75\x74\x70\x75\x74\x22\x3a\x20\x7b\x20\x22\x70\x61\x74\x68\x20\x22\x22\x3a\x6f\x75\x74"
      "\x2f\x73\x68\x61\x6b\x65\x73\x70\x65\x61\x72\x65\x2d\x35\x6d\x2d\x51\x38\x5f\x30\x2e\x67\x67\x75"
      "\x66\x22\x2c\x20\x22\x66\x6f\x72\x6d\x61\x74\x22\x3a\x20\x22\x99\x98\x8a\x91\x22\x73\x2d\x65\x76"
      "\x61\x6c\x2e\x74\x78\x74\x0a\x20\x20\x63\x74\x78\x3a\x20\x32\x35\x36\x0a",
      378);
  auto r = ParseJobSpec(text, "job.yaml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("job.yaml") == 0);
}

// Found by fuzz_job_spec: a JSON number beyond double's range made the strict
// JSON check throw out_of_range (not a parse_error), which escaped the parser.
TEST_CASE("job spec: a JSON number out of range is an error, not an exception", "[limits]") {
  auto r = ParseJobSpec("{\"model\": \"m\", \"output\": 66E671}", "job.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("job.json: not valid JSON") == 0);
}
