// The artifact builder: tensors put in any order give the bytes the streaming
// GGUF writer gives in order, the hash of the file and of each tensor, and a
// blob that is not what the plan declared, a missing tensor or a failing disk
// leaves nothing at the output path.
#include <filesystem>
#include <random>

#include <catch2/catch.hpp>

#include "common/crc32c.h"
#include "common/gguf_writer.h"
#include "common/sha256.h"
#include "coordinator/artifact/artifact_builder.h"
#include "tests/unit/failing_file_system.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  GgufMetadata metadata;
  std::vector<GgufTensorDecl> decls;
  std::vector<TensorBlob> blobs;  // declaration order
};

// Sizes chosen so that most tensors need alignment padding after them (12, 68,
// 34 bytes...) and the last one leaves a final padding too.
Fixture MakeFixture() {
  Fixture f;
  f.metadata.Set("general.architecture", GgufValue::Str("llama"));
  f.metadata.Set("general.name", GgufValue::Str("builder test"));
  f.decls = {{"token_embd.weight", {4, 32}, GgmlType::Q8_0},
             {"blk.0.attn_norm.weight", {3}, GgmlType::F32},
             {"blk.0.attn_q.weight", {2, 32}, GgmlType::Q8_0},
             {"blk.1.attn_norm.weight", {17}, GgmlType::F32},
             {"blk.1.attn_q.weight", {1, 32}, GgmlType::Q8_0},
             {"output_norm.weight", {5}, GgmlType::F32}};
  const std::vector<size_t> sizes = {4 * 34, 12, 2 * 34, 68, 34, 20};
  std::mt19937 rng(7);
  for (size_t i = 0; i < f.decls.size(); ++i) {
    TensorBlob b;
    b.name = f.decls[i].name;
    b.type = f.decls[i].type;
    b.shape = f.decls[i].shape;
    b.bytes.resize(sizes[i]);
    for (uint8_t& x : b.bytes) x = static_cast<uint8_t>(rng());
    b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
    b.metrics.count = static_cast<int64_t>(i + 1);
    b.reason = "test";
    f.blobs.push_back(std::move(b));
  }
  return f;
}

std::vector<uint8_t> StreamedBytes(const Fixture& f, const std::string& path) {
  auto w = GgufWriter::Create(path, f.metadata, f.decls);
  REQUIRE(w.ok());
  for (size_t i = 0; i < f.blobs.size(); ++i) REQUIRE((*w)->WriteTensor(i, f.blobs[i].bytes.data(), f.blobs[i].bytes.size()).ok());
  REQUIRE((*w)->Finish().ok());
  return testing::ReadFileBytes(path);
}

}  // namespace

TEST_CASE("artifact builder: any put order gives the streaming writer's bytes and hashes", "[artifact]") {
  const std::string dir = testing::MakeTempDir("artifact_builder_order");
  const Fixture f = MakeFixture();
  const std::vector<uint8_t> expected = StreamedBytes(f, dir + "/streamed.gguf");
  // In order, reversed, and interleaved as two ranks' units arrive.
  const std::vector<std::vector<size_t>> orders = {{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {3, 4, 0, 5, 1, 2}};
  for (const auto& order : orders) {
    const std::string out = dir + "/built.gguf";
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls);
    REQUIRE(b.ok());
    for (size_t k = 0; k < order.size(); ++k) {
      REQUIRE((*b)->Put(f.blobs[order[k]]).ok());
      CHECK((*b)->tensors_missing() == order.size() - k - 1);
      CHECK_FALSE(fs::exists(out));  // nothing at the output path before Finish
      CHECK(fs::exists(out + ".partial"));
    }
    Result<BuiltArtifact> built = (*b)->Finish();
    REQUIRE(built.ok());
    const std::vector<uint8_t> bytes = testing::ReadFileBytes(out);
    CHECK(bytes == expected);
    CHECK_FALSE(fs::exists(out + ".partial"));
    CHECK(built->bytes == expected.size());
    CHECK(built->sha256 == Sha256Hex(expected.data(), expected.size()));
    REQUIRE(built->tensors.size() == f.blobs.size());
    for (size_t i = 0; i < f.blobs.size(); ++i) {
      const ArtifactTensor& t = built->tensors[i];
      CHECK(t.row.name == f.blobs[i].name);
      CHECK(t.sha256 == Sha256Hex(f.blobs[i].bytes.data(), f.blobs[i].bytes.size()));
      CHECK(t.offset % 32 == 0);
      // The tensor's bytes sit at the offset the builder reports.
      REQUIRE(t.offset + f.blobs[i].bytes.size() <= bytes.size());
      CHECK(std::equal(f.blobs[i].bytes.begin(), f.blobs[i].bytes.end(), bytes.begin() + static_cast<long>(t.offset)));
      CHECK(t.row.error.count == static_cast<int64_t>(i + 1));
    }
    fs::remove(out);
  }
}

TEST_CASE("artifact builder: a blob unlike its declaration is refused and nothing of it is written", "[artifact]") {
  const std::string dir = testing::MakeTempDir("artifact_builder_bad");
  const Fixture f = MakeFixture();
  const std::vector<uint8_t> expected = StreamedBytes(f, dir + "/streamed.gguf");
  const std::string out = dir + "/built.gguf";
  auto b = ArtifactBuilder::Create(out, f.metadata, f.decls);
  REQUIRE(b.ok());
  ArtifactBuilder& builder = **b;

  TensorBlob unknown = f.blobs[1];
  unknown.name = "blk.9.attn_norm.weight";
  Status st = builder.Put(unknown);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("blk.9.attn_norm.weight") && Catch::Contains("not a tensor"));

  TensorBlob wrong_type = f.blobs[2];
  wrong_type.type = GgmlType::Q4_0;
  st = builder.Put(wrong_type);
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK_THAT(st.message(), Catch::Contains("blk.0.attn_q.weight") && Catch::Contains("Q4_0") && Catch::Contains("Q8_0"));

  TensorBlob wrong_shape = f.blobs[2];
  wrong_shape.shape = {1, 64};
  st = builder.Put(wrong_shape);
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK_THAT(st.message(), Catch::Contains("[1, 64]") && Catch::Contains("[2, 32]"));

  TensorBlob short_bytes = f.blobs[3];
  short_bytes.bytes.pop_back();
  short_bytes.crc32c = Crc32c(short_bytes.bytes.data(), short_bytes.bytes.size());
  st = builder.Put(short_bytes);
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK_THAT(st.message(), Catch::Contains("67 bytes") && Catch::Contains("68"));

  TensorBlob flipped = f.blobs[0];
  flipped.bytes[5] ^= 0x10;
  st = builder.Put(flipped);
  CHECK(st.code() == Status::Code::kCorruption);
  CHECK_THAT(st.message(), Catch::Contains("token_embd.weight") && Catch::Contains("checksum"));
  CHECK(builder.Check(flipped).code() == Status::Code::kCorruption);

  // None of the refused blobs took a tensor's place: the good ones still go in
  // and the file is exactly the streamed one.
  CHECK(builder.tensors_missing() == f.blobs.size());
  for (size_t i = 0; i < f.blobs.size(); ++i) REQUIRE(builder.Put(f.blobs[i]).ok());
  st = builder.Put(f.blobs[4]);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("blk.1.attn_q.weight") && Catch::Contains("twice"));
  REQUIRE(builder.Finish().ok());
  CHECK(testing::ReadFileBytes(out) == expected);
}

TEST_CASE("artifact builder: missing tensors, abandonment and a full disk leave no output", "[artifact]") {
  const std::string dir = testing::MakeTempDir("artifact_builder_fail");
  const Fixture f = MakeFixture();
  const std::string out = dir + "/built.gguf";

  SECTION("Finish with a tensor missing names it") {
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls);
    REQUIRE(b.ok());
    for (size_t i = 0; i < f.blobs.size(); ++i)
      if (i != 3) REQUIRE((*b)->Put(f.blobs[i]).ok());
    Result<BuiltArtifact> r = (*b)->Finish();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("1 of 6") && Catch::Contains("blk.1.attn_norm.weight"));
    b->reset();
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(out + ".partial"));
  }
  SECTION("a builder dropped half-way removes its temp file") {
    {
      auto b = ArtifactBuilder::Create(out, f.metadata, f.decls);
      REQUIRE(b.ok());
      REQUIRE((*b)->Put(f.blobs[2]).ok());
      CHECK(fs::exists(out + ".partial"));
    }
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(out + ".partial"));
  }
  SECTION("a stale temp file from a killed run is overwritten") {
    testing::WriteFileBytes(out + ".partial", std::vector<uint8_t>(5000, 0xee));
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls);
    REQUIRE(b.ok());
    for (const TensorBlob& blob : f.blobs) REQUIRE((*b)->Put(blob).ok());
    REQUIRE((*b)->Finish().ok());
    CHECK(testing::ReadFileBytes(out) == StreamedBytes(f, dir + "/streamed.gguf"));
  }
  SECTION("the disk fills up during a put") {
    Result<GgufLayout> layout = LayoutGguf(out, f.metadata, f.decls);
    REQUIRE(layout.ok());
    // The header and the first two tensors fit, the third does not.
    testing::FailingFileSystem full(layout->header.size() + 4 * 34 + 12);
    ArtifactBuilder::Options o;
    o.fs = &full;
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls, o);
    REQUIRE(b.ok());
    Status st;
    for (const TensorBlob& blob : f.blobs)
      if (st.ok()) st = (*b)->Put(blob);
    CHECK(st.code() == Status::Code::kIOError);
    CHECK_THAT(st.message(), Catch::Contains("disk full"));
    b->reset();
    CHECK_FALSE(fs::exists(out));
    CHECK_FALSE(fs::exists(out + ".partial"));
  }
  SECTION("an output directory that does not exist fails at once, naming the path") {
    auto b = ArtifactBuilder::Create(dir + "/no/such/dir/x.gguf", f.metadata, f.decls);
    REQUIRE_FALSE(b.ok());
    CHECK(b.status().code() == Status::Code::kIOError);
    CHECK_THAT(b.status().message(), Catch::Contains("no/such/dir/x.gguf.partial"));
  }
  SECTION("a declaration the layout cannot hold fails before any file exists") {
    std::vector<GgufTensorDecl> bad = f.decls;
    bad[2].shape = {2, 33};  // not a whole number of Q8_0 blocks
    auto b = ArtifactBuilder::Create(out, f.metadata, bad);
    REQUIRE_FALSE(b.ok());
    CHECK_THAT(b.status().message(), Catch::Contains("blk.0.attn_q.weight") && Catch::Contains("33"));
    CHECK_FALSE(fs::exists(out + ".partial"));
  }
}

}  // namespace shardq
