// A job's GGUF artifact, filled as its units commit. The layout (header and
// every tensor's offset) follows from the plan's types and the model's shapes
// before any tensor exists, so each committed blob is written straight to its
// place in a temp file beside the output, in whatever order the units finish
// (blocks of several ranks interleave). When the last unit commits, what is
// left is the rest of the file's hash, an fsync (most of the data is already on
// its way to disk) and a rename, instead of a pass over every blob.
//
// Every blob is checked before a byte of it is written: a declared tensor not
// yet put, its type, shape and size as declared, its CRC-32C. Nothing appears
// at the output path before Finish(); a builder destroyed unfinished removes
// its temp file, and the temp file's name is fixed (OUTPUT.partial), so a run
// that was killed leaves one file that the next run of the job overwrites.
//
// With `keep_partial`, workers write their tensors into the temp file
// themselves (in-place blobs, tensor_blob.h) and rank 0 only checks them: the
// temp file is then the job's checkpoint data beside the state store. Create
// reopens an existing one laid out the same way (or starts from the output
// of an earlier run that finished, when there is no temp file), Check reads an in-place
// tensor back and verifies its CRC-32C (a resumed job reuses only tensors
// whose bytes are still there), and an unfinished builder keeps the file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/file_system.h"
#include "common/gguf_layout.h"
#include "common/gguf_value.h"
#include "common/sha256.h"
#include "common/status.h"
#include "common/tensor_blob.h"
#include "coordinator/artifact/report_html.h"

namespace shardq {

// What the manifest and the report say about one tensor of the artifact.
struct ArtifactTensor {
  ReportRow row;
  uint64_t offset = 0;  // absolute, in the artifact
  std::string sha256;   // of the tensor's bytes
};

struct BuiltArtifact {
  std::string path;
  std::string sha256;  // of the whole file
  uint64_t bytes = 0;
  std::vector<ArtifactTensor> tensors;  // declaration (= file) order
};

class ArtifactBuilder {
 public:
  struct Options {
    FileSystem* fs = FileSystem::Default();
    std::string temp_path;  // empty: OUTPUT.partial
    // Workers may write in place (see above): reopen and keep the temp file.
    bool keep_partial = false;
    // Written just past the file's end while it is built, so that a worker can
    // tell that the temp file it opened is this run's (and not a same-named
    // file on its own host); Finish cuts it off.
    std::vector<uint8_t> placement_tag;
  };
  // Where each tensor goes in the temp file, for workers that write in place.
  struct Region {
    std::string name;
    uint64_t offset = 0;  // absolute
    uint64_t size = 0;
  };

  // Lays the file out and writes its header. Fails (naming the path and the
  // tensor) on declarations the GGUF layout rejects, or when the temp file
  // cannot be created, before any unit is computed.
  static Result<std::unique_ptr<ArtifactBuilder>> Create(const std::string& path, const GgufMetadata& metadata,
                                                         std::vector<GgufTensorDecl> tensors,
                                                         const Options& options);
  static Result<std::unique_ptr<ArtifactBuilder>> Create(const std::string& path, const GgufMetadata& metadata,
                                                         std::vector<GgufTensorDecl> tensors) {
    return Create(path, metadata, std::move(tensors), Options());
  }
  ~ArtifactBuilder();
  ArtifactBuilder(const ArtifactBuilder&) = delete;
  ArtifactBuilder& operator=(const ArtifactBuilder&) = delete;

  // What Put checks, without writing: a unit's blobs are all checked before
  // any of them is put, so a bad unit can be recomputed as a whole.
  Status Check(const TensorBlob& blob) const;
  // Checks `blob` and writes it at its offset. InvalidArgument for a tensor
  // not declared or already put, Corruption for a blob that is not what was
  // declared or whose bytes fail their checksum; nothing is written then.
  Status Put(const TensorBlob& blob);

  size_t tensors_missing() const { return missing_; }
  std::vector<Region> Regions() const;
  uint64_t file_bytes() const { return layout_.file_bytes; }
  // The temp file's size while it is built (the tag included).
  uint64_t partial_bytes() const { return layout_.file_bytes + placement_tag_.size(); }
  // Create found the temp file of an earlier run of the job and kept its bytes.
  bool reused_partial() const { return reused_partial_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

  // Every tensor put: hashes the rest of the file, fsyncs, renames the temp
  // file over the output path and fsyncs its directory.
  Result<BuiltArtifact> Finish();

 private:
  ArtifactBuilder() = default;
  // Extends the file's hash over every tensor now contiguous with the hashed
  // prefix; tensor `just_put` is hashed from `blob` in memory, others are read back.
  Status AdvanceFileHash(size_t just_put, const TensorBlob& blob);
  // An in-place tensor's bytes read back from the temp file, against its CRC-32C.
  Status CheckInPlaceBytes(size_t i, const TensorBlob& blob, const std::string& label) const;
  // Opens the temp file: a fresh one, or with keep_partial an earlier run's of the same layout.
  Status OpenTempFile();
  // No usable temp file: starts it from a finished output of the same layout.
  void SeedFromOutput();
  // Reads [begin, begin + size) of `file` in kReadChunk pieces into
  // read_buffer_, handing each to `use`; stops at the first error.
  Status ReadChunks(PositionalFile& file, uint64_t begin, uint64_t size,
                    const std::function<Status(const uint8_t*, size_t)>& use) const;
  void HashZeros(uint64_t n);
  void Abandon();

  FileSystem* fs_ = nullptr;
  std::string path_, temp_path_;
  std::unique_ptr<PositionalFile> file_;
  GgufLayout layout_;
  std::vector<ArtifactTensor> tensors_;
  std::vector<bool> put_;
  std::unordered_map<std::string, size_t> index_;  // tensor name -> declaration
  size_t missing_ = 0;
  Sha256 file_sha_;
  size_t hashed_tensors_ = 0;  // tensors [0, hashed_tensors_) are in file_sha_
  uint64_t hashed_bytes_ = 0;  // == the end of the last hashed tensor
  bool finished_ = false;
  bool keep_partial_ = false;
  // In-place tensors whose bytes Check read back and found good, by index and
  // CRC: Put after Check does not read them a second time.
  mutable std::vector<std::pair<size_t, uint32_t>> checked_in_place_;
  // ReadChunks' buffer (kReadChunk bytes), allocated once and never zeroed.
  mutable std::unique_ptr<uint8_t[]> read_buffer_;
  bool reused_partial_ = false;
  std::vector<uint8_t> placement_tag_;
};

}  // namespace shardq
