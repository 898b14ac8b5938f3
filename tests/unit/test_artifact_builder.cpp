// The artifact builder: tensors put in any order give the bytes the streaming
// GGUF writer gives in order, the hash of the file and of each tensor, and a
// blob that is not what the plan declared, a missing tensor or a failing disk
// leaves nothing at the output path.
#include <filesystem>
#include <fstream>
#include <random>

#include <catch2/catch.hpp>

#include "common/crc32c.h"
#include "common/gguf_writer.h"
#include "common/sha256.h"
#include "coordinator/artifact/artifact_builder.h"
#include "runtime/in_place_writer.h"
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

namespace {

UnitPlacement PlacementOf(const ArtifactBuilder& b, const std::vector<uint8_t>& tag) {
  UnitPlacement p;
  p.path = b.temp_path();
  p.tag = tag;
  p.file_bytes = b.file_bytes();
  for (const auto& r : b.Regions()) p.regions.push_back({r.name, r.offset, r.size});
  return p;
}

// What a worker does with its unit: writes the blobs in place, keeps the records.
std::vector<TensorBlob> PlaceAll(const UnitPlacement& p, std::vector<TensorBlob> blobs) {
  auto w = InPlaceWriter::Open(p);
  REQUIRE(w.ok());
  REQUIRE((*w)->Place(&blobs).ok());
  return blobs;
}

}  // namespace

TEST_CASE("artifact builder: tensors written in place are checked, kept across runs and reused", "[artifact]") {
  const std::string dir = testing::MakeTempDir("artifact_builder_in_place");
  const Fixture f = MakeFixture();
  const std::vector<uint8_t> expected = StreamedBytes(f, dir + "/streamed.gguf");
  const std::string out = dir + "/built.gguf";
  ArtifactBuilder::Options o;
  o.keep_partial = true;
  o.placement_tag = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  std::vector<TensorBlob> records;
  {
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls, o);
    REQUIRE(b.ok());
    CHECK_FALSE((*b)->reused_partial());
    // The tag sits just past the file's end while it is built.
    std::vector<uint8_t> partial = testing::ReadFileBytes(out + ".partial");
    REQUIRE(partial.size() == expected.size() + 16);
    CHECK(std::vector<uint8_t>(partial.end() - 16, partial.end()) == o.placement_tag);
    const UnitPlacement placement = PlacementOf(**b, o.placement_tag);

    // A worker that finds another file (another tag or size) does not write.
    UnitPlacement other = placement;
    other.tag[0] ^= 1;
    auto refused = InPlaceWriter::Open(other);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Status::Code::kUnsupported);
    CHECK_THAT(refused.status().message(), Catch::Contains("not this run's file"));
    other = placement;
    other.file_bytes += 32;
    CHECK_THAT(InPlaceWriter::Open(other).status().message(), Catch::Contains("not the same file"));

    records = PlaceAll(placement, f.blobs);
    for (size_t i = 0; i < records.size(); ++i) {
      CHECK(records[i].in_place);
      CHECK(records[i].bytes.empty());
      CHECK(records[i].in_place_size == f.blobs[i].bytes.size());
      CHECK(records[i].crc32c == f.blobs[i].crc32c);
      CHECK(HexOfBytes(records[i].sha256) == Sha256Hex(f.blobs[i].bytes.data(), f.blobs[i].bytes.size()));
    }
    // The first three go in; then the builder is dropped, as a failed run's is.
    for (size_t i = 0; i < 3; ++i) REQUIRE((*b)->Put(records[i]).ok());
  }
  REQUIRE(fs::exists(out + ".partial"));  // kept: it holds committed tensors
  CHECK_FALSE(fs::exists(out));
  {
    // The next run reopens it: the tensors are there, checked by their CRC.
    o.placement_tag.assign(16, 0x5a);
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls, o);
    REQUIRE(b.ok());
    CHECK((*b)->reused_partial());
    for (size_t i = 0; i < 3; ++i) REQUIRE((*b)->Put(records[i]).ok());
    // A byte of tensor 4 on disk differs from what its worker wrote: refused,
    // naming the temp file; nothing is marked put.
    TensorBlob damaged = records[4];
    const uint64_t at = (*b)->Regions()[4].offset + 3;
    {
      std::fstream file(out + ".partial", std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(static_cast<std::streamoff>(at));
      const char x = static_cast<char>(f.blobs[4].bytes[3] ^ 0x40);
      file.write(&x, 1);
    }
    Status st = (*b)->Put(damaged);
    CHECK(st.code() == Status::Code::kCorruption);
    CHECK_THAT(st.message(), Catch::Contains("blk.1.attn_q.weight") && Catch::Contains(out + ".partial") &&
                                 Catch::Contains("does not hold the bytes"));
    CHECK((*b)->tensors_missing() == 3);
    // Recomputed and written again, the rest goes in and the file is the streamed one.
    const UnitPlacement placement = PlacementOf(**b, o.placement_tag);
    // This time on the writer's own thread, as a worker overlaps it with its next unit.
    auto writer = InPlaceWriter::Open(placement);
    REQUIRE(writer.ok());
    CHECK((*writer)->Wait().status().code() == Status::Code::kInternal);  // nothing started
    (*writer)->Start({f.blobs[3], f.blobs[4], f.blobs[5]});
    CHECK((*writer)->busy());
    Result<std::vector<TensorBlob>> written = (*writer)->Wait();
    REQUIRE(written.ok());
    CHECK_FALSE((*writer)->busy());
    const std::vector<TensorBlob> again = std::move(*written);
    REQUIRE(again.size() == 3);
    CHECK(again[1].crc32c == f.blobs[4].crc32c);
    // A tensor the file has no region for fails the unit, naming it.
    TensorBlob stranger = f.blobs[0];
    stranger.name = "blk.7.ffn_up.weight";
    (*writer)->Start({stranger});
    CHECK_THAT((*writer)->Wait().status().message(), Catch::Contains("blk.7.ffn_up.weight") && Catch::Contains("no region"));
    for (const TensorBlob& r : again) REQUIRE((*b)->Put(r).ok());
    Result<BuiltArtifact> built = (*b)->Finish();
    REQUIRE(built.ok());
    CHECK(testing::ReadFileBytes(out) == expected);  // the tag is cut off
    CHECK(built->sha256 == Sha256Hex(expected.data(), expected.size()));
    for (size_t i = 0; i < f.blobs.size(); ++i)
      CHECK(built->tensors[i].sha256 == Sha256Hex(f.blobs[i].bytes.data(), f.blobs[i].bytes.size()));
    CHECK_FALSE(fs::exists(out + ".partial"));
  }
  {
    // A finished job run again starts from its output (copied: the output
    // stays whole until the new one replaces it).
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls, o);
    REQUIRE(b.ok());
    CHECK((*b)->reused_partial());
    CHECK(testing::ReadFileBytes(out) == expected);
    for (const TensorBlob& r : records) REQUIRE((*b)->Put(r).ok());
    REQUIRE((*b)->Finish().ok());
    CHECK(testing::ReadFileBytes(out) == expected);
  }
  {
    // A temp file of another layout is not reused: every in-place tensor is refused.
    fs::remove(out);
    testing::WriteFileBytes(out + ".partial", std::vector<uint8_t>(5000, 0xee));
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls, o);
    REQUIRE(b.ok());
    CHECK_FALSE((*b)->reused_partial());
    for (const TensorBlob& r : records) CHECK((*b)->Check(r).code() == Status::Code::kCorruption);
  }
  {
    // Without keep_partial an in-place record is a mistake, not a tensor.
    fs::remove(out + ".partial");
    auto b = ArtifactBuilder::Create(out, f.metadata, f.decls);
    REQUIRE(b.ok());
    CHECK_THAT((*b)->Check(records[0]).message(), Catch::Contains("workers were not to write in place"));
  }
}

}  // namespace shardq
