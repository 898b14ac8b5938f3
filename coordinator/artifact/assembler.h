// Assembly: the committed blobs of a job streamed from the state store into the
// artifact in canonical tensor order (temp file, fsync, rename), then a manifest
// (sha256 per tensor and of the whole file) and a report (JSON, and a
// self-contained HTML page with per-layer error charts as inline SVG).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/gguf_value.h"
#include "common/gguf_writer.h"
#include "common/status.h"
#include "coordinator/artifact/artifact_builder.h"
#include "coordinator/store/state_store.h"

namespace shardq {

struct AssembleInput {
  std::string job_id;
  std::string output_path;               // the artifact; manifest and report go beside it:
                                         // OUT.manifest.json, OUT.report.json, OUT.report.html
  GgufMetadata metadata;                 // BuildOutputMetadata(model, file_type)
  std::vector<std::string> tensor_order; // canonical order of every tensor name
  std::string spec_json;                 // shown in the report
  // Optional: every tensor's planned type and shape, in tensor_order's order
  // (the job runner knows them from its plan). Given, the header is written at
  // once and each blob is fetched only once, checked against its declaration;
  // empty, a first pass over the blobs learns them.
  std::vector<GgufTensorDecl> tensors;
};

struct AssembleResult {
  std::string file_sha256;
  uint64_t file_bytes = 0;
  std::string manifest_path, report_json_path, report_html_path;
};

// Fails with Corruption naming the tensor when a blob's checksum does not verify
// (nothing is written at output_path then; the caller drops that unit and recomputes).
Result<AssembleResult> AssembleGguf(StateStore& store, const AssembleInput& in);

// Writes OUT.manifest.json, OUT.report.json and OUT.report.html beside a built
// artifact (each atomically): what AssembleGguf does after the artifact, and
// what the job runner does after its ArtifactBuilder finishes.
Result<AssembleResult> WriteArtifactSidecars(const BuiltArtifact& built, const std::string& spec_json);

// One committed blob by tensor name. The StateStore overload fetches through
// this; tests pass a map-backed fetcher.
using BlobFetcher = std::function<Result<TensorBlob>(const std::string& tensor)>;
Result<AssembleResult> AssembleGguf(const BlobFetcher& fetch, const AssembleInput& in);

}  // namespace shardq
