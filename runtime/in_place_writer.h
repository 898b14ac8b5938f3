// A worker's side of in-place units (tensor_blob.h): writes each tensor of a
// unit at its region of the artifact's temp file, makes the unit's bytes
// durable, and turns the blobs into in-place records (size, CRC-32C, SHA-256),
// so only those travel to rank 0. Rank 0 reads the bytes back and checks
// their CRC before the unit is committed.
//
// A worker that cannot open the file, or opens one that is not this run's
// (another host's file of the same name: the tag at its end differs), sends
// the bytes to rank 0 instead, which is slower but the same job.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "common/tensor_blob.h"
#include "runtime/job_messages.h"

namespace shardq {

class InPlaceWriter {
 public:
  // Unsupported (with the reason) when this rank cannot write in place.
  static Result<std::unique_ptr<InPlaceWriter>> Open(const UnitPlacement& placement,
                                                     FileSystem* fs = FileSystem::Default());
  ~InPlaceWriter();

  // Writes every blob at its region, syncs the file, and replaces each blob's
  // bytes by its in-place record. Errors name the file and the tensor.
  Status Place(std::vector<TensorBlob>* blobs);

  // The same on a thread of its own, so a worker compresses its next unit
  // while this one's bytes go to the file: Start takes the unit's blobs (one
  // unit at a time), Wait returns their in-place records once they are durable.
  void Start(std::vector<TensorBlob> blobs);
  Result<std::vector<TensorBlob>> Wait();
  bool busy() const { return pending_.valid(); }

 private:
  InPlaceWriter() = default;
  std::string path_;
  std::unique_ptr<PositionalFile> file_;
  std::unordered_map<std::string, UnitPlacement::Region> regions_;
  std::future<Result<std::vector<TensorBlob>>> pending_;
};

}  // namespace shardq
