#include "coordinator/assembler.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <memory>
#include <system_error>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/crc32c.h"
#include "common/gguf_writer.h"
#include "common/file_system.h"
#include "common/sha256.h"
#include "coordinator/report_html.h"

namespace shardq {
namespace {

using ordered_json = nlohmann::ordered_json;

// Below this a thread costs more than the hashing it would overlap.
constexpr size_t kParallelHashBytes = 1 << 20;

// What the manifest and report say about a tensor; its bytes are not kept.
struct Planned {
  ReportRow row;
  uint32_t crc32c = 0;
  uint64_t offset = 0;  // absolute, in the artifact
  std::string sha256;   // of the tensor's bytes, filled while writing
};

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Fetches `name` and checks the record against itself: the name it answers to and
// the CRC-32C of its bytes (the state store verified it too; this guards every
// other path a blob can take, and is cheap next to writing).
Result<TensorBlob> FetchVerified(const BlobFetcher& fetch, const std::string& label, const std::string& name) {
  Result<TensorBlob> blob = fetch(name);
  if (!blob.ok()) return blob.status().WithContext(label + ": tensor '" + name + "': ");
  if (blob->name != name) {
    return Status::Corruption(label + ": tensor '" + name + "': the store returned a blob named '" + blob->name +
                              "'");
  }
  const uint32_t crc = Crc32c(blob->bytes.data(), blob->bytes.size());
  if (crc != blob->crc32c) {
    return Status::Corruption(label + ": tensor '" + name + "': checksum mismatch (record " + Hex32(blob->crc32c) +
                              ", bytes " + Hex32(crc) + ")");
  }
  return blob;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint32_t Alignment(const GgufMetadata& metadata) {
  const GgufValue* a = metadata.Find("general.alignment");
  return a && a->is_integer() && a->as_int() > 0 ? static_cast<uint32_t>(a->as_int()) : 32u;
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// JSON has no infinity: an exact tensor's SQNR is null.
ordered_json Finite(double v) { return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr); }

Status WriteAtomically(const std::string& path, const std::string& text) {
  SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> f, AtomicFile::Create(path));
  SHARDQ_RETURN_IF_ERROR(f->Append(text.data(), text.size()));
  return f->Commit();
}

// Hashes exactly the bytes the artifact writer appends (header, padding,
// tensor data, final padding) on their way to the file, so the file's sha256 is
// known when Finish() returns without reading or mapping ~the whole artifact
// back (a map of it would add every page to rank 0's RSS). One file at a time:
// the GgufWriter opens exactly one, the temp file that becomes the artifact.
class HashingFileSystem : public FileSystem {
 public:
  explicit HashingFileSystem(FileSystem* base) : base_(base) {}

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    SHARDQ_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->NewWritableFile(path));
    sha_ = std::make_unique<Sha256>();
    hashed_bytes_ = 0;
    return std::unique_ptr<WritableFile>(new HashingFile(std::move(file), this));
  }
  Status Rename(const std::string& from, const std::string& to) override { return base_->Rename(from, to); }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }

  uint64_t hashed_bytes() const { return hashed_bytes_; }
  std::string HexDigest() { return sha_ ? sha_->HexDigest() : std::string(); }

 private:
  class HashingFile : public WritableFile {
   public:
    HashingFile(std::unique_ptr<WritableFile> base, HashingFileSystem* fs) : base_(std::move(base)), fs_(fs) {}
    Status Append(const void* data, size_t n) override {
      SHARDQ_RETURN_IF_ERROR(base_->Append(data, n));
      // Only bytes the file accepted count; a failed append fails the artifact anyway.
      fs_->sha_->Update(data, n);
      fs_->hashed_bytes_ += n;
      return Status::OK();
    }
    Status Sync() override { return base_->Sync(); }
    Status Close() override { return base_->Close(); }

   private:
    std::unique_ptr<WritableFile> base_;
    HashingFileSystem* fs_;
  };

  FileSystem* base_;
  std::unique_ptr<Sha256> sha_;
  uint64_t hashed_bytes_ = 0;
};

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// The report's and manifest's facts that only the blob's record holds.
void FillRow(const TensorBlob& blob, Planned* p) {
  p->row.error.sum_sq_err = blob.metrics.sum_sq_err;
  p->row.error.sum_sq_ref = blob.metrics.sum_sq_ref;
  p->row.error.max_abs_err = blob.metrics.max_abs_err;
  p->row.error.count = blob.metrics.count;
  p->row.reason = blob.reason;
  p->row.bytes = blob.bytes.size();
  p->crc32c = blob.crc32c;
}

Planned FromDecl(const GgufTensorDecl& d) {
  Planned p;
  p.row.name = d.name;
  p.row.type = d.type;
  p.row.shape = d.shape;
  p.row.n_elements = 1;
  for (int64_t x : d.shape) p.row.n_elements *= x;
  return p;
}

std::string ManifestJson(const AssembleResult& r, const std::string& file, const std::vector<Planned>& planned) {
  ordered_json m;
  m["file"] = file;
  m["sha256"] = r.file_sha256;
  m["bytes"] = r.file_bytes;
  ordered_json tensors = ordered_json::array();
  for (const Planned& p : planned) {
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

std::string ReportJson(const AssembleResult& r, const std::string& file, const std::vector<Planned>& planned,
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
  for (const Planned& p : planned) {
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

Result<AssembleResult> AssembleGguf(const BlobFetcher& fetch, const AssembleInput& in) {
  const std::string& out = in.output_path;
  const std::string label = "assemble " + (out.empty() ? std::string("(no output path)") : out);
  if (out.empty()) return Status::InvalidArgument("assemble: no output path given");
  if (in.tensor_order.empty()) return Status::InvalidArgument(label + ": no tensors to assemble");
  if (!fetch) return Status::InvalidArgument(label + ": no blob fetcher");

  std::vector<Planned> planned;
  std::vector<GgufTensorDecl> decls;
  const bool declared = !in.tensors.empty();
  if (declared) {
    // The caller's plan gives the header; each blob is checked against it below.
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
      planned.push_back(FromDecl(decls.back()));
      FillRow(blob, &planned.back());
    }
  }
  if (declared) {
    planned.reserve(decls.size());
    for (const GgufTensorDecl& d : decls) planned.push_back(FromDecl(d));
  }

  HashingFileSystem hashing(FileSystem::Default());
  GgufWriter::Options writer_options;
  writer_options.fs = &hashing;
  Result<std::unique_ptr<GgufWriter>> created = GgufWriter::Create(out, in.metadata, decls, writer_options);
  if (!created.ok()) return created.status();
  std::unique_ptr<GgufWriter> writer = std::move(created).value();
  for (size_t i = 0; i < planned.size() && !declared; ++i) {
    if (writer->tensor_bytes(i) != planned[i].row.bytes) {
      return Status::Corruption(label + ": tensor '" + planned[i].row.name + "': " +
                                std::to_string(planned[i].row.bytes) + " bytes, its type and shape need " +
                                std::to_string(writer->tensor_bytes(i)));
    }
  }

  // Pass 2 (the only one with declarations): fetch -> verify -> write -> drop,
  // one blob in memory at a time. Any error returns with the writer unfinished,
  // which removes its temp file.
  const uint64_t alignment = Alignment(in.metadata);
  uint64_t rel = 0;
  for (size_t i = 0; i < planned.size(); ++i) {
    Planned& p = planned[i];
    SHARDQ_ASSIGN_OR_RETURN(TensorBlob blob, FetchVerified(fetch, label, p.row.name));
    if (declared) {
      if (blob.type != p.row.type || blob.shape != p.row.shape) {
        return Status::Corruption(label + ": tensor '" + p.row.name + "': the blob is " + GgmlTypeName(blob.type) +
                                  " " + ShapeText(blob.shape) + ", the plan declares " + GgmlTypeName(p.row.type) +
                                  " " + ShapeText(p.row.shape));
      }
      if (blob.bytes.size() != writer->tensor_bytes(i)) {
        return Status::Corruption(label + ": tensor '" + p.row.name + "': " + std::to_string(blob.bytes.size()) +
                                  " bytes, its type and shape need " + std::to_string(writer->tensor_bytes(i)));
      }
      FillRow(blob, &p);
    } else if (blob.type != p.row.type || blob.shape != p.row.shape || blob.crc32c != p.crc32c) {
      return Status::Corruption(label + ": tensor '" + p.row.name + "': the blob changed while assembling");
    }
    rel = AlignUp(rel, alignment);
    p.offset = writer->data_offset() + rel;
    rel += p.row.bytes;
    // The tensor's own sha256 on a second thread while this one writes it (and
    // hashes it into the file's digest): assembly runs after the workers are
    // done, so that core is idle. The future joins before `blob` is dropped.
    std::future<std::string> sha;
    if (blob.bytes.size() >= kParallelHashBytes) {
      try {
        sha = std::async(std::launch::async, [&blob] { return Sha256Hex(blob.bytes.data(), blob.bytes.size()); });
      } catch (const std::system_error&) {
        // No thread to be had: hash on this one below.
      }
    }
    const Status written = writer->WriteTensor(i, blob.bytes.data(), blob.bytes.size());
    p.sha256 = sha.valid() ? sha.get() : Sha256Hex(blob.bytes.data(), blob.bytes.size());
    SHARDQ_RETURN_IF_ERROR(written);
  }
  SHARDQ_RETURN_IF_ERROR(writer->Finish());

  AssembleResult result;
  result.file_bytes = writer->bytes_written();
  writer.reset();
  if (hashing.hashed_bytes() != result.file_bytes) {
    return Status::Internal(out + ": hashed " + std::to_string(hashing.hashed_bytes()) + " bytes, the writer wrote " +
                            std::to_string(result.file_bytes));
  }
  result.file_sha256 = hashing.HexDigest();

  const std::string file = BaseName(out);
  result.manifest_path = out + ".manifest.json";
  result.report_json_path = out + ".report.json";
  result.report_html_path = out + ".report.html";
  SHARDQ_RETURN_IF_ERROR(WriteAtomically(result.manifest_path, ManifestJson(result, file, planned)));
  SHARDQ_RETURN_IF_ERROR(
      WriteAtomically(result.report_json_path, ReportJson(result, file, planned, in.spec_json)));
  std::vector<ReportRow> rows;
  rows.reserve(planned.size());
  for (const Planned& p : planned) rows.push_back(p.row);
  ReportSummary summary{file, result.file_sha256, result.file_bytes, in.spec_json};
  SHARDQ_RETURN_IF_ERROR(WriteAtomically(result.report_html_path, RenderReportHtml(rows, summary)));
  return result;
}

}  // namespace shardq
