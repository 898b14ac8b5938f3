// Unit compression + assembly: blobs compressed unit by unit (as worker ranks
// would, each with its own view of the model) and assembled through a
// map-backed fetcher give exactly the file `shardq quantize` writes; the
// manifest and reports describe that file; a corrupt blob leaves nothing behind.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "common/gguf_reader.h"
#include "common/model.h"
#include "common/sha256.h"
#include "common/tensor_order.h"
#include "coordinator/artifact/assembler.h"
#include "coordinator/artifact/output_metadata.h"
#include "coordinator/job/quantize_job.h"
#include "coordinator/store/state_store.h"
#include "runtime/unit_plan.h"
#include "test_util.h"
#include "worker/calibration_stats.h"
#include "worker/unit_compressor.h"

namespace shardq {
namespace {

namespace fs = std::filesystem;
using BlobMap = std::map<std::string, TensorBlob>;

struct Compressed {
  BlobMap blobs;
  std::vector<std::string> order;  // canonical
  GgufMetadata metadata;
};

std::vector<TensorInfo> Ordered(const TensorSource& source) {
  std::vector<TensorInfo> ordered;
  for (size_t i : CanonicalTensorOrder(source.tensors())) ordered.push_back(source.tensors()[i]);
  return ordered;
}

// Plans the model over `n_workers` ranks, then each rank opens the model itself
// and compresses its own units, as the distributed job does.
Compressed CompressByRanks(const std::string& model_path, const QuantPlanOptions& options, int n_workers,
                           const CalibrationStats* stats) {
  Result<Model> model = OpenModel(model_path);
  REQUIRE(model.ok());
  const std::vector<TensorInfo> ordered = Ordered(*model->source);
  Result<std::vector<TensorChoice>> choices = PlanTensorTypes(ordered, options);
  REQUIRE(choices.ok());
  std::map<std::string, TensorChoice> choice_of;
  for (const TensorChoice& c : *choices) choice_of[c.name] = c;
  Result<UnitPlan> plan = MakeUnitPlan(ordered, n_workers, 1);
  REQUIRE(plan.ok());

  Compressed out;
  for (const TensorInfo& t : ordered) out.order.push_back(t.name);
  Result<GgufMetadata> metadata = BuildOutputMetadata(*model, options.preset.file_type);
  REQUIRE(metadata.ok());
  out.metadata = *metadata;

  for (const RankRange& range : plan->ranges) {
    Result<Model> rank_model = OpenModel(model_path);  // a rank's own mapping
    REQUIRE(rank_model.ok());
    ThreadPool pool(range.rank % 2 + 1);  // thread count must not change bytes
    for (int64_t u = range.begin; u < range.end; ++u) {
      UnitCompressInput in;
      for (const std::string& name : plan->units[u].tensors) {
        const TensorInfo* t = rank_model->source->Find(name);
        REQUIRE(t != nullptr);
        in.tensors.push_back(t);
        in.choices.push_back(choice_of.at(name));
      }
      in.stats = stats;
      Result<std::vector<TensorBlob>> blobs = CompressUnit(in, *rank_model->source, &pool);
      REQUIRE(blobs.ok());
      REQUIRE(blobs->size() == in.tensors.size());
      for (TensorBlob& b : *blobs) out.blobs[b.name] = std::move(b);
    }
  }
  return out;
}

BlobFetcher MapFetcher(const BlobMap& blobs) {
  return [&blobs](const std::string& name) -> Result<TensorBlob> {
    auto it = blobs.find(name);
    if (it == blobs.end()) return Status::NotFound("no blob for '" + name + "'");
    return it->second;
  };
}

AssembleInput Input(const Compressed& c, const std::string& path) {
  AssembleInput in;
  in.job_id = "job-test";
  in.output_path = path;
  in.metadata = c.metadata;
  in.tensor_order = c.order;
  in.spec_json = R"({"model":"shakespeare-5m","recipe":{"quantize":{"preset":"Q4_K_M"}}})";
  return in;
}

std::string ReferenceQuantize(const std::string& model_path, const std::string& out, const std::string& imatrix) {
  QuantizeJobOptions options;
  options.model_path = model_path;
  options.output_path = out;
  options.threads = 2;
  options.imatrix_path = imatrix;
  Result<QuantizeReport> report = RunQuantizeJob(options, nullptr);
  REQUIRE(report.ok());
  return out;
}

// sha256 by coreutils, not by shardq's own code.
std::string Sha256Sum(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[65] = {};
  const size_t n = fread(buf, 1, 64, p);
  pclose(p);
  REQUIRE(n == 64);
  return std::string(buf, 64);
}

std::string ReadText(const std::string& path) {
  const std::vector<uint8_t> b = testing::ReadFileBytes(path);
  return std::string(b.begin(), b.end());
}

const std::string kShakespeare = testing::SharedPath("models/shakespeare-5m");

}  // namespace

TEST_CASE("assemble: units compressed by 1 or 3 ranks give shardq quantize's exact file", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble");
  const std::string ref = ReferenceQuantize(kShakespeare, dir + "/ref.gguf", "");
  const std::vector<uint8_t> ref_bytes = testing::ReadFileBytes(ref);
  REQUIRE(ref_bytes.size() > 1000000);

  for (int workers : {1, 3}) {
    INFO("workers " << workers);
    Compressed c = CompressByRanks(kShakespeare, QuantPlanOptions(), workers, nullptr);
    CHECK(c.blobs.at("blk.0.attn_q.weight").type == GgmlType::Q4_K);
    CHECK(c.blobs.at("blk.0.attn_norm.weight").type == GgmlType::F32);
    // The blob's CRC is the CRC-32C of its bytes; its metrics cover every weight.
    const TensorBlob& q = c.blobs.at("blk.1.ffn_up.weight");
    CHECK(q.crc32c == Crc32c(q.bytes.data(), q.bytes.size()));
    CHECK(q.metrics.count == 768 * 256);
    CHECK(q.metrics.sum_sq_err > 0);
    CHECK(q.shape == std::vector<int64_t>{768, 256});
    CHECK_FALSE(q.reason.empty());

    const std::string out = dir + "/dist" + std::to_string(workers) + ".gguf";
    Result<AssembleResult> r = AssembleGguf(MapFetcher(c.blobs), Input(c, out));
    REQUIRE(r.ok());
    CHECK(testing::ReadFileBytes(out) == ref_bytes);
    CHECK(r->file_bytes == ref_bytes.size());
    CHECK(r->file_sha256 == Sha256Sum(ref));
  }
  fs::remove_all(dir);
}

TEST_CASE("assemble: through the RocksDB state store, units committed in any order", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble");
  const std::string ref = ReferenceQuantize(kShakespeare, dir + "/ref.gguf", "");
  Compressed c = CompressByRanks(kShakespeare, QuantPlanOptions(), 2, nullptr);
  Result<std::unique_ptr<StateStore>> store = StateStore::Open(dir + "/state");
  REQUIRE(store.ok());
  Result<Model> model = OpenModel(kShakespeare);
  REQUIRE(model.ok());
  Result<UnitPlan> plan = MakeUnitPlan(model->source->tensors(), 2, 1);
  REQUIRE(plan.ok());
  // Units arrive as ranks finish them: last first.
  for (auto u = plan->units.rbegin(); u != plan->units.rend(); ++u) {
    UnitRecord rec;
    rec.index = u->index;
    rec.name = u->name;
    rec.tensors = u->tensors;
    rec.worker_rank = plan->OwnerOf(u->index);
    std::vector<TensorBlob> blobs;
    for (const std::string& name : u->tensors) blobs.push_back(c.blobs.at(name));
    REQUIRE((*store)->CommitUnit("job-test", rec, blobs).ok());
  }
  AssembleInput in = Input(c, dir + "/dist.gguf");
  Result<AssembleResult> r = AssembleGguf(**store, in);
  REQUIRE(r.ok());
  CHECK(testing::ReadFileBytes(dir + "/dist.gguf") == testing::ReadFileBytes(ref));

  // Another job id has no blobs: NotFound naming the tensor, nothing written.
  in.job_id = "job-other";
  in.output_path = dir + "/other.gguf";
  Result<AssembleResult> missing = AssembleGguf(**store, in);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("token_embd.weight"));
  CHECK_FALSE(fs::exists(dir + "/other.gguf"));
  store->reset();
  fs::remove_all(dir);
}

TEST_CASE("assemble: stories260K (fallback types) matches shardq quantize", "[assemble]") {
  const std::string model = testing::SharedPath("models/stories260K/stories260K.gguf");
  const std::string dir = testing::MakeTempDir("assemble");
  const std::string ref = ReferenceQuantize(model, dir + "/ref.gguf", "");
  Compressed c = CompressByRanks(model, QuantPlanOptions(), 4, nullptr);
  const std::string out = dir + "/dist.gguf";
  Result<AssembleResult> r = AssembleGguf(MapFetcher(c.blobs), Input(c, out));
  REQUIRE(r.ok());
  CHECK(testing::ReadFileBytes(out) == testing::ReadFileBytes(ref));
  fs::remove_all(dir);
}

TEST_CASE("assemble: importance-weighted units match shardq quantize --imatrix", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble");
  // Synthetic statistics for every 2-D tensor's input: uneven channel weights.
  Result<Model> model = OpenModel(kShakespeare);
  REQUIRE(model.ok());
  CalibrationStats stats;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (const TensorInfo& t : model->source->tensors()) {
    if (t.shape.size() != 2) continue;
    std::vector<float> x(8 * t.row_length());
    for (size_t i = 0; i < x.size(); ++i) x[i] = normal(rng) * (1.f + (i % t.row_length()) % 5);
    stats.Entry(t.name, t.row_length()).Accumulate(x.data(), 8, false);
  }
  const std::string imatrix = dir + "/stats.sqstats";
  REQUIRE(stats.Save(imatrix).ok());
  const std::string ref = ReferenceQuantize(kShakespeare, dir + "/ref.gguf", imatrix);

  QuantPlanOptions options;
  options.has_imatrix = true;
  Compressed c = CompressByRanks(kShakespeare, options, 2, &stats);
  const std::string out = dir + "/dist.gguf";
  REQUIRE(AssembleGguf(MapFetcher(c.blobs), Input(c, out)).ok());
  CHECK(testing::ReadFileBytes(out) == testing::ReadFileBytes(ref));

  // Without the statistics the bytes differ: the importance really reached the encoder.
  Compressed plain = CompressByRanks(kShakespeare, options, 1, nullptr);
  CHECK(plain.blobs.at("blk.0.attn_q.weight").bytes != c.blobs.at("blk.0.attn_q.weight").bytes);
  fs::remove_all(dir);
}

TEST_CASE("compress unit: statistics of the wrong width are an error naming the tensor", "[assemble]") {
  Result<Model> model = OpenModel(kShakespeare);
  REQUIRE(model.ok());
  const TensorInfo* t = model->source->Find("blk.0.ffn_down.weight");
  REQUIRE(t != nullptr);
  CalibrationStats stats;
  std::vector<float> x(256, 1.f);
  stats.Entry("blk.0.ffn_down.weight", 256).Accumulate(x.data(), 1, false);  // rows are 768 long
  UnitCompressInput in;
  in.tensors = {t};
  in.choices = {TensorChoice{"blk.0.ffn_down.weight", GgmlType::Q6_K, true, "preset"}};
  in.stats = &stats;
  Result<std::vector<TensorBlob>> r = CompressUnit(in, *model->source, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains("blk.0.ffn_down.weight") && Catch::Contains("256") &&
                                       Catch::Contains("768"));

  // A choice for another tensor, or a count mismatch, is refused too.
  in.stats = nullptr;
  in.choices[0].name = "blk.0.ffn_up.weight";
  CHECK(CompressUnit(in, *model->source, nullptr).status().code() == Status::Code::kInvalidArgument);
  in.choices.clear();
  CHECK(CompressUnit(in, *model->source, nullptr).status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("assemble: manifest describes the file, in canonical order, deterministically", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble");
  Compressed c = CompressByRanks(kShakespeare, QuantPlanOptions(), 2, nullptr);
  const std::string out = dir + "/model.gguf";
  Result<AssembleResult> r = AssembleGguf(MapFetcher(c.blobs), Input(c, out));
  REQUIRE(r.ok());
  CHECK(r->manifest_path == out + ".manifest.json");
  CHECK(r->report_json_path == out + ".report.json");
  CHECK(r->report_html_path == out + ".report.html");

  const std::string manifest_text = ReadText(r->manifest_path);
  const nlohmann::json m = nlohmann::json::parse(manifest_text);
  const std::vector<uint8_t> file = testing::ReadFileBytes(out);
  CHECK(m["file"] == "model.gguf");
  CHECK(m["sha256"] == Sha256Sum(out));
  CHECK(m["sha256"] == r->file_sha256);
  CHECK(m["bytes"] == file.size());

  // Offsets and sizes as the GGUF reader sees the file; sha256 of each tensor's bytes there.
  Result<Model> reread = OpenModel(out);
  REQUIRE(reread.ok());
  REQUIRE(m["tensors"].size() == c.order.size());
  uint64_t prev_end = 0;
  for (size_t i = 0; i < c.order.size(); ++i) {
    const nlohmann::json& t = m["tensors"][i];
    INFO(c.order[i]);
    CHECK(t["name"] == c.order[i]);
    const TensorInfo* info = reread->source->Find(c.order[i]);
    REQUIRE(info != nullptr);
    CHECK(t["type"] == GgmlTypeName(info->type));
    CHECK(t["shape"].get<std::vector<int64_t>>() == info->shape);
    CHECK(t["offset"] == info->offset);
    CHECK(t["bytes"] == info->nbytes);
    CHECK(t["offset"].get<uint64_t>() % 32 == 0);
    CHECK(t["offset"].get<uint64_t>() >= prev_end);
    prev_end = t["offset"].get<uint64_t>() + t["bytes"].get<uint64_t>();
    REQUIRE(prev_end <= file.size());
    CHECK(t["sha256"] == Sha256Hex(file.data() + info->offset, info->nbytes));
  }
  CHECK(m["tensors"][0]["name"] == "token_embd.weight");
  CHECK(m["tensors"][c.order.size() - 1]["name"] == "output.weight");

  // The same blobs assembled elsewhere give the same bytes and the same manifest.
  fs::create_directories(dir + "/again");
  Result<AssembleResult> again = AssembleGguf(MapFetcher(c.blobs), Input(c, dir + "/again/model.gguf"));
  REQUIRE(again.ok());
  CHECK(ReadText(again->manifest_path) == manifest_text);
  CHECK(testing::ReadFileBytes(dir + "/again/model.gguf") == file);
  fs::remove_all(dir);
}

TEST_CASE("assemble: report JSON and a self-contained HTML page with SVG charts", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble");
  Compressed c = CompressByRanks(kShakespeare, QuantPlanOptions(), 1, nullptr);
  const std::string out = dir + "/model.gguf";
  Result<AssembleResult> r = AssembleGguf(MapFetcher(c.blobs), Input(c, out));
  REQUIRE(r.ok());

  const nlohmann::json rep = nlohmann::json::parse(ReadText(r->report_json_path));
  CHECK(rep["spec"]["recipe"]["quantize"]["preset"] == "Q4_K_M");
  REQUIRE(rep["tensors"].size() == c.order.size());
  const nlohmann::json& q = rep["tensors"][2];  // blk.0.attn_q.weight
  CHECK(q["name"] == "blk.0.attn_q.weight");
  CHECK(q["type"] == "Q4_K");
  CHECK(q["bytes"] == 256 / 256 * 144 * 256);  // one Q4_K block (144 bytes) per 256-wide row
  CHECK(q["bpw"].get<double>() == Approx(4.5));
  const TensorBlob& blob = c.blobs.at("blk.0.attn_q.weight");
  CHECK(q["rmse"].get<double>() == Approx(std::sqrt(blob.metrics.sum_sq_err / blob.metrics.count)));
  CHECK(q["relative_rmse"].get<double>() > 0.01);
  CHECK(q["relative_rmse"].get<double>() < 0.2);
  CHECK(q["sqnr_db"].get<double>() > 10);
  CHECK(q["max_abs_err"].get<double>() == blob.metrics.max_abs_err);
  CHECK(q["reason"] == blob.reason);
  const nlohmann::json& norm = rep["tensors"][1];  // blk.0.attn_norm.weight, copied exactly
  CHECK(norm["type"] == "F32");
  CHECK(norm["rmse"] == 0.0);
  CHECK(norm["sqnr_db"].is_null());
  CHECK(rep["totals"]["weights"] == 5246208);
  CHECK(rep["totals"]["bpw"].get<double>() > 4.5);
  CHECK(rep["totals"]["bpw"].get<double>() < 6.0);

  const std::string html = ReadText(r->report_html_path);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("polyline") != std::string::npos);
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("blk.5.ffn_down.weight") != std::string::npos);
  for (const char* kind : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
    CHECK(html.find(std::string(">") + kind + "</text>") != std::string::npos);
  CHECK(html.find("&quot;preset&quot;") != std::string::npos);  // the spec, escaped
  fs::remove_all(dir);
}

// The report's numbers against an independent computation: every tensor of the written
// GGUF decoded back to F32 and compared with the source model here, its size taken from
// the file; the totals summed and maxed here. The HTML table must show the same values.
TEST_CASE("assemble: report numbers equal a recomputation from the written file and the source", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble_report");
  Compressed c = CompressByRanks(kShakespeare, QuantPlanOptions(), 2, nullptr);
  const std::string out = dir + "/model.gguf";
  Result<AssembleResult> r = AssembleGguf(MapFetcher(c.blobs), Input(c, out));
  REQUIRE(r.ok());
  const nlohmann::json rep = nlohmann::json::parse(ReadText(r->report_json_path));
  const std::string html = ReadText(r->report_html_path);

  Result<Model> src = OpenModel(kShakespeare);
  REQUIRE(src.ok());
  auto gguf = GgufFile::Open(out);
  REQUIRE(gguf.ok());
  REQUIRE(rep["tensors"].size() == (*gguf)->tensors().size());

  // The table row of one tensor, as cell texts.
  auto html_row = [&](const std::string& name) {
    std::vector<std::string> cells;
    const std::string start = "<tr><td class=\"l\">" + name + "</td>";
    const size_t at = html.find(start);
    if (at == std::string::npos) return cells;
    const size_t end = html.find("</tr>", at);
    for (size_t p = html.find("<td", at); p != std::string::npos && p < end; p = html.find("<td", p + 1)) {
      const size_t open = html.find('>', p) + 1;
      cells.push_back(html.substr(open, html.find("</td>", open) - open));
    }
    return cells;
  };
  auto near = [](const std::string& cell, double want, double rel, double abs) {
    if (std::isinf(want)) return cell == "&infin;";
    const double got = std::strtod(cell.c_str(), nullptr);
    return std::fabs(got - want) <= abs + rel * std::fabs(want);
  };

  double tot_err = 0, tot_ref = 0, tot_max = 0;
  int64_t tot_count = 0;
  uint64_t tot_bytes = 0;
  for (size_t i = 0; i < (*gguf)->tensors().size(); ++i) {
    const TensorInfo& t = (*gguf)->tensors()[i];
    const nlohmann::json& j = rep["tensors"][i];
    INFO(t.name);
    REQUIRE(j["name"] == t.name);
    CHECK(j["type"] == GgmlTypeName(t.type));
    CHECK(j["n_elements"] == t.n_elements());
    CHECK(j["bytes"] == t.nbytes);
    CHECK(j["bpw"].get<double>() == Approx(8.0 * t.nbytes / t.n_elements()).epsilon(1e-12));
    std::vector<float> x, x_hat;
    const TensorInfo* s = src->source->Find(t.name);
    REQUIRE(s != nullptr);
    REQUIRE(src->source->ReadF32(*s, &x).ok());
    REQUIRE((*gguf)->ReadF32(t, &x_hat).ok());
    REQUIRE(x.size() == x_hat.size());
    double err = 0, ref = 0, mx = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      const double d = double(x[k]) - double(x_hat[k]);
      err += d * d;
      ref += double(x[k]) * x[k];
      mx = std::max(mx, std::fabs(d));
    }
    const double n = static_cast<double>(x.size());
    const double rmse = std::sqrt(err / n), rel = std::sqrt(err / ref);
    const double sqnr = err == 0 ? INFINITY : 10 * std::log10(ref / err);
    CHECK(j["rmse"].get<double>() == Approx(rmse).epsilon(1e-9).margin(1e-15));
    CHECK(j["relative_rmse"].get<double>() == Approx(rel).epsilon(1e-9).margin(1e-15));
    if (err == 0) {
      CHECK(j["sqnr_db"].is_null());
    } else {
      CHECK(j["sqnr_db"].get<double>() == Approx(sqnr).epsilon(1e-9));
    }
    CHECK(j["max_abs_err"].get<double>() == mx);
    tot_err += err;
    tot_ref += ref;
    tot_max = std::max(tot_max, mx);
    tot_count += static_cast<int64_t>(x.size());
    tot_bytes += t.nbytes;

    const std::vector<std::string> cells = html_row(t.name);
    REQUIRE(cells.size() == 10);
    CHECK(cells[1] == GgmlTypeName(t.type));
    CHECK(cells[3] == std::to_string(t.nbytes));
    CHECK(near(cells[4], 8.0 * t.nbytes / t.n_elements(), 0, 0.0005));
    CHECK(near(cells[5], rmse, 6e-4, 1e-30));  // %.4g: 4 significant digits
    CHECK(near(cells[6], rel, 6e-4, 1e-30));
    CHECK(near(cells[7], sqnr, 0, 0.006));     // %.2f
    CHECK(near(cells[8], mx, 6e-4, 1e-30));
  }
  const nlohmann::json& tot = rep["totals"];
  CHECK(tot["tensors"] == (*gguf)->tensors().size());
  CHECK(tot["weights"] == tot_count);
  CHECK(tot["tensor_bytes"] == tot_bytes);
  CHECK(tot["f32_bytes"] == 4 * tot_count);
  CHECK(tot["bpw"].get<double>() == Approx(8.0 * tot_bytes / tot_count).epsilon(1e-12));
  CHECK(tot["compression_ratio"].get<double>() == Approx(4.0 * tot_count / fs::file_size(out)).epsilon(1e-12));
  CHECK(tot["rmse"].get<double>() == Approx(std::sqrt(tot_err / tot_count)).epsilon(1e-9));
  CHECK(tot["relative_rmse"].get<double>() == Approx(std::sqrt(tot_err / tot_ref)).epsilon(1e-9));
  CHECK(tot["sqnr_db"].get<double>() == Approx(10 * std::log10(tot_ref / tot_err)).epsilon(1e-9));
  CHECK(tot["max_abs_err"].get<double>() == tot_max);
  CHECK(rep["bytes"] == fs::file_size(out));
  fs::remove_all(dir);
}

TEST_CASE("assemble: a corrupt or missing blob fails naming the tensor, leaving no file", "[assemble]") {
  const std::string dir = testing::MakeTempDir("assemble");
  Compressed c = CompressByRanks(kShakespeare, QuantPlanOptions(), 1, nullptr);
  const std::string out = dir + "/model.gguf";

  SECTION("flipped bytes") {
    BlobMap bad = c.blobs;
    bad.at("blk.3.ffn_down.weight").bytes[100] ^= 0x10;
    Result<AssembleResult> r = AssembleGguf(MapFetcher(bad), Input(c, out));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("blk.3.ffn_down.weight") && Catch::Contains("checksum"));
  }
  SECTION("bytes corrupted between the header pass and the data pass") {
    // The fetcher serves good bytes the first time each tensor is asked for, then flips the last tensor.
    std::map<std::string, int> calls;
    BlobFetcher flaky = [&](const std::string& name) -> Result<TensorBlob> {
      TensorBlob b = c.blobs.at(name);
      if (name == "output.weight" && calls[name]++ > 0) b.bytes[0] ^= 1;
      return b;
    };
    Result<AssembleResult> r = AssembleGguf(flaky, Input(c, out));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("output.weight"));
  }
  SECTION("missing blob") {
    BlobMap missing = c.blobs;
    missing.erase("blk.4.attn_v.weight");
    Result<AssembleResult> r = AssembleGguf(MapFetcher(missing), Input(c, out));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kNotFound);
    CHECK_THAT(r.status().message(), Catch::Contains("blk.4.attn_v.weight"));
  }
  SECTION("a blob whose size does not fit its type and shape") {
    BlobMap bad = c.blobs;
    TensorBlob& b = bad.at("blk.2.attn_k.weight");
    b.bytes.resize(b.bytes.size() - 144);
    b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
    Result<AssembleResult> r = AssembleGguf(MapFetcher(bad), Input(c, out));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kCorruption);
    CHECK_THAT(r.status().message(), Catch::Contains("blk.2.attn_k.weight"));
  }
  // Nothing at the output path, no temp file, no manifest or report.
  CHECK(fs::is_empty(dir));
  fs::remove_all(dir);
}

}  // namespace shardq
