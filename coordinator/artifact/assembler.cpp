#include "coordinator/artifact/assembler.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/file_system.h"
#include "common/sha256.h"
#include "coordinator/artifact/report_html.h"

namespace shardq {
namespace {

using ordered_json = nlohmann::ordered_json;

// Fetches `name` and checks that the record answers to that name. Its bytes'
// CRC-32C is checked by ArtifactBuilder::Put before any of them is written.
Result<TensorBlob> FetchVerified(const BlobFetcher& fetch, const std::string& label, const std::string& name) {
  Result<TensorBlob> blob = fetch(name);
  if (!blob.ok()) return blob.status().WithContext(label + ": tensor '" + name + "': ");
  if (blob->name != name) {
    return Status::Corruption(label + ": tensor '" + name + "': the store returned a blob named '" + blob->name +
                              "'");
  }
  return blob;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// JSON has no infinity: an exact tensor's SQNR is null.
ordered_json Finite(double v) { return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr); }

Status WriteAtomically(const std::string& path, const std::string& text) {
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> f, AtomicFile::Create(path));
  SHARDQ_RETURN_IF_ERROR(f->Append(text.data(), text.size()));
  return f->Commit();
}

std::string ManifestJson(const AssembleResult& r, const std::string& file, const std::vector<ArtifactTensor>& planned) {
  ordered_json m;
  m["file"] = file;
  m["sha256"] = r.file_sha256;
  m["bytes"] = r.file_bytes;
  ordered_json tensors = ordered_json::array();
  for (const ArtifactTensor& p : planned) {
    ordered_json t;
    t["name"] = p.row.name;
    t["type"] = GgmlTypeName(p.row.type);
    t["shape"] = p.row.shape;
    t["offset"] = p.offset;
    t["bytes"] = p.row.bytes;
    t["sha256"] = p.sha256;
    tensors.push_back(std::move(t));
  }
  m["tensors"] = std::move(tensors);
  return m.dump(2) + "\n";
}

ordered_json ErrorJson(const QuantError& e) {
  ordered_json j;
  j["rmse"] = Finite(e.rmse());
  j["relative_rmse"] = Finite(e.relative_rmse());
  j["sqnr_db"] = Finite(e.sqnr_db());
  j["max_abs_err"] = Finite(e.max_abs_err);
  return j;
}

std::string ReportJson(const AssembleResult& r, const std::string& file, const std::vector<ArtifactTensor>& planned,
                       const std::string& spec_json) {
  ordered_json rep;
  rep["file"] = file;
  rep["sha256"] = r.file_sha256;
  rep["bytes"] = r.file_bytes;
  // The spec as an object when it parses, else verbatim.
  ordered_json spec = ordered_json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  rep["spec"] = spec.is_discarded() ? ordered_json(spec_json) : spec;

  QuantError total;
  uint64_t tensor_bytes = 0;
  int64_t weights = 0;
  ordered_json tensors = ordered_json::array();
  for (const ArtifactTensor& p : planned) {
    const ReportRow& row = p.row;
    total.Merge(row.error);
    tensor_bytes += row.bytes;
    weights += row.n_elements;
    ordered_json t;
    t["name"] = row.name;
    t["type"] = GgmlTypeName(row.type);
    t["shape"] = row.shape;
    t["n_elements"] = row.n_elements;
    t["bytes"] = row.bytes;
    t["bpw"] = row.bits_per_weight();
    t.update(ErrorJson(row.error));
    t["reason"] = row.reason;
    tensors.push_back(std::move(t));
  }
  ordered_json totals;
  totals["tensors"] = planned.size();
  totals["weights"] = weights;
  totals["tensor_bytes"] = tensor_bytes;
  totals["f32_bytes"] = 4ull * static_cast<uint64_t>(weights);
  totals["bpw"] = weights ? 8.0 * static_cast<double>(tensor_bytes) / weights : 0.0;
  totals["compression_ratio"] = r.file_bytes ? 4.0 * weights / static_cast<double>(r.file_bytes) : 0.0;
  totals.update(ErrorJson(total));
  rep["totals"] = std::move(totals);
  rep["tensors"] = std::move(tensors);
  return rep.dump(2) + "\n";
}

}  // namespace

Result<AssembleResult> WriteArtifactSidecars(const BuiltArtifact& built, const std::string& spec_json) {
  AssembleResult result;
  result.file_sha256 = built.sha256;
  result.file_bytes = built.bytes;
  const std::string& out = built.path;
  const std::string file = BaseName(out);
  result.manifest_path = out + ".manifest.json";
  result.report_json_path = out + ".report.json";
  result.report_html_path = out + ".report.html";
  SHARDQ_RETURN_IF_ERROR(WriteAtomically(result.manifest_path, ManifestJson(result, file, built.tensors)));
  SHARDQ_RETURN_IF_ERROR(WriteAtomically(result.report_json_path, ReportJson(result, file, built.tensors, spec_json)));
  std::vector<ReportRow> rows;
  rows.reserve(built.tensors.size());
  for (const ArtifactTensor& t : built.tensors) rows.push_back(t.row);
  ReportSummary summary{file, result.file_sha256, result.file_bytes, spec_json};
  SHARDQ_RETURN_IF_ERROR(WriteAtomically(result.report_html_path, RenderReportHtml(rows, summary)));
  return result;
}

Result<AssembleResult> AssembleGguf(const BlobFetcher& fetch, const AssembleInput& in) {
  const std::string& out = in.output_path;
  const std::string label = "assemble " + (out.empty() ? std::string("(no output path)") : out);
  if (out.empty()) return Status::InvalidArgument("assemble: no output path given");
  if (in.tensor_order.empty()) return Status::InvalidArgument(label + ": no tensors to assemble");
  if (!fetch) return Status::InvalidArgument(label + ": no blob fetcher");

  std::vector<GgufTensorDecl> decls;
  std::vector<uint32_t> first_crc;  // undeclared: what pass 1 saw, to catch a blob that changes
  const bool declared = !in.tensors.empty();
  if (declared) {
    // The caller's plan gives the header; the builder checks each blob against it.
    if (in.tensors.size() != in.tensor_order.size()) {
      return Status::InvalidArgument(label + ": " + std::to_string(in.tensors.size()) + " tensor declarations for " +
                                     std::to_string(in.tensor_order.size()) + " tensors");
    }
    for (size_t i = 0; i < in.tensors.size(); ++i) {
      if (in.tensors[i].name != in.tensor_order[i]) {
        return Status::InvalidArgument(label + ": tensor declaration " + std::to_string(i) + " is '" +
                                       in.tensors[i].name + "', the tensor order has '" + in.tensor_order[i] + "'");
      }
    }
    decls = in.tensors;
  } else {
    // Pass 1: the header needs every tensor's type and shape before any data, so
    // each blob is fetched, verified and dropped; only its description stays.
    decls.reserve(in.tensor_order.size());
    for (const std::string& name : in.tensor_order) {
      SHARDQ_ASSIGN_OR_RETURN(TensorBlob blob, FetchVerified(fetch, label, name));
      decls.push_back({blob.name, blob.shape, blob.type});
      first_crc.push_back(blob.crc32c);
    }
  }

  // Fetch -> verify -> write at its offset -> drop, one blob in memory at a
  // time. Any error returns with the builder unfinished, which removes its temp file.
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<ArtifactBuilder> builder, ArtifactBuilder::Create(out, in.metadata, decls));
  for (size_t i = 0; i < decls.size(); ++i) {
    SHARDQ_ASSIGN_OR_RETURN(TensorBlob blob, FetchVerified(fetch, label, decls[i].name));
    if (!declared && (blob.type != decls[i].type || blob.shape != decls[i].shape || blob.crc32c != first_crc[i]))
      return Status::Corruption(label + ": tensor '" + decls[i].name + "': the blob changed while assembling");
    Status put = builder->Put(blob);
    if (!put.ok()) return put.WithContext("assemble: ");
  }
  SHARDQ_ASSIGN_OR_RETURN(BuiltArtifact built, builder->Finish());
  return WriteArtifactSidecars(built, in.spec_json);
}

}  // namespace shardq
