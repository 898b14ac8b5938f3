// Assembly from the plan's declarations (AssembleInput::tensors): the same bytes,
// manifest and report as assembling without them, each blob fetched once, and a
// blob that disagrees with its declaration fails naming the tensor, leaving nothing.
#include <cstdio>
#include <filesystem>
#include <map>

#include <catch2/catch.hpp>

#include "common/model.h"
#include "common/tensor_order.h"
#include "coordinator/artifact/assembler.h"
#include "coordinator/artifact/output_metadata.h"
#include "test_util.h"
#include "common/quant_plan.h"
#include "worker/unit_compressor.h"

namespace shardq {
namespace {

namespace fs = std::filesystem;

struct Packed {
  std::map<std::string, TensorBlob> blobs;
  AssembleInput in;  // no output path yet; declarations filled from the plan
};

// shakespeare-5m, Q4_K_M, every tensor packed as one unit.
Packed PackShakespeare() {
  Result<Model> model = OpenModel(testing::SharedPath("models/shakespeare-5m"));
  REQUIRE(model.ok());
  std::vector<TensorInfo> ordered;
  for (size_t i : CanonicalTensorOrder(model->source->tensors())) ordered.push_back(model->source->tensors()[i]);
  Result<std::vector<TensorChoice>> choices = PlanTensorTypes(ordered, QuantPlanOptions());
  REQUIRE(choices.ok());
  UnitCompressInput unit;
  for (const TensorInfo& t : ordered) unit.tensors.push_back(&t);
  unit.choices = *choices;
  ThreadPool pool(2);
  Result<std::vector<TensorBlob>> blobs = CompressUnit(unit, *model->source, &pool);
  REQUIRE(blobs.ok());

  Packed p;
  for (TensorBlob& b : *blobs) p.blobs[b.name] = std::move(b);
  Result<GgufMetadata> metadata = BuildOutputMetadata(*model, QuantPlanOptions().preset.file_type);
  REQUIRE(metadata.ok());
  p.in.job_id = "job-decls";
  p.in.metadata = *metadata;
  p.in.spec_json = R"({"model":"shakespeare-5m"})";
  for (size_t i = 0; i < ordered.size(); ++i) {
    p.in.tensor_order.push_back(ordered[i].name);
    p.in.tensors.push_back({ordered[i].name, ordered[i].shape, (*choices)[i].type});
  }
  return p;
}

std::string ReadText(const std::string& path) {
  const std::vector<uint8_t> b = testing::ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}

}  // namespace

TEST_CASE("assemble: with declarations, one fetch per blob and the same files as without", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble_decls");
  Packed p = PackShakespeare();
  std::map<std::string, int> fetches;
  BlobFetcher counting = [&](const std::string& name) -> Result<TensorBlob> {
    ++fetches[name];
    auto it = p.blobs.find(name);
    if (it == p.blobs.end()) return Status::NotFound("no blob for '" + name + "'");
    return it->second;
  };

  AssembleInput declared = p.in;
  declared.output_path = dir + "/declared.gguf";
  Result<AssembleResult> a = AssembleGguf(counting, declared);
  REQUIRE(a.ok());
  REQUIRE(fetches.size() == p.blobs.size());
  for (const auto& [name, n] : fetches) {
    INFO(name);
    CHECK(n == 1);
  }

  fetches.clear();
  AssembleInput undeclared = p.in;
  undeclared.tensors.clear();
  undeclared.output_path = dir + "/undeclared.gguf";
  Result<AssembleResult> b = AssembleGguf(counting, undeclared);
  REQUIRE(b.ok());
  CHECK(fetches.at("output_norm.weight") == 2);  // the header pass, then the data pass

  CHECK(testing::ReadFileBytes(declared.output_path) == testing::ReadFileBytes(undeclared.output_path));
  CHECK(a->file_sha256 == b->file_sha256);
  CHECK(a->file_bytes == b->file_bytes);
  // Manifest and report differ only in the file name they carry.
  auto same_but_name = [](std::string text) {
    for (size_t at; (at = text.find("undeclared.gguf")) != std::string::npos;) text.replace(at, 15, "declared.gguf");
    return text;
  };
  CHECK(ReadText(a->manifest_path) == same_but_name(ReadText(b->manifest_path)));
  CHECK(ReadText(a->report_json_path) == same_but_name(ReadText(b->report_json_path)));
  fs::remove_all(dir);
}

TEST_CASE("assemble: a blob that disagrees with its declaration fails naming the tensor", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble_decls_bad");
  Packed p = PackShakespeare();
  BlobFetcher fetch = [&](const std::string& name) -> Result<TensorBlob> { return p.blobs.at(name); };
  AssembleInput in = p.in;
  in.output_path = dir + "/model.gguf";

  auto find = [&](const std::string& name) -> GgufTensorDecl& {
    for (GgufTensorDecl& d : in.tensors)
      if (d.name == name) return d;
    FAIL("no declaration " << name);
    return in.tensors.front();
  };

  SECTION("another type") {
    REQUIRE(find("blk.2.ffn_up.weight").type == GgmlType::Q4_K);
    find("blk.2.ffn_up.weight").type = GgmlType::Q5_K;
    Result<AssembleResult> r = AssembleGguf(fetch, in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("blk.2.ffn_up.weight") && Catch::Contains("Q4_K") &&
                                         Catch::Contains("Q5_K"));
  }
  SECTION("another shape") {
    find("blk.5.attn_k.weight").shape = {256, 512};
    Result<AssembleResult> r = AssembleGguf(fetch, in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("blk.5.attn_k.weight") && Catch::Contains("[256, 512]"));
  }
  SECTION("declarations that do not follow the tensor order") {
    std::swap(in.tensors[3], in.tensors[4]);
    Result<AssembleResult> r = AssembleGguf(fetch, in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains(in.tensor_order[3]));
  }
  SECTION("fewer declarations than tensors") {
    in.tensors.pop_back();
    Result<AssembleResult> r = AssembleGguf(fetch, in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
  }
  SECTION("a corrupt blob is still caught") {
    p.blobs.at("blk.4.ffn_gate.weight").bytes[7] ^= 0x40;
    Result<AssembleResult> r = AssembleGguf(fetch, in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("blk.4.ffn_gate.weight") && Catch::Contains("checksum"));
  }
  // Nothing at the output path, no temp file, no manifest or report.
  CHECK(fs::is_empty(dir));
  fs::remove_all(dir);
}

}  // namespace shardq
