// The state store: the truth about every job, on rank 0, in RocksDB. A narrow
// class: nothing else includes RocksDB headers. Column families:
//   jobs   job id -> JobRecord (JSON)
//   units  job id + unit index -> UnitRecord (JSON)
//   blobs  job id + tensor name -> one tensor's packed bytes with type, shape,
//          metrics and CRC-32C (binary, docs/formats.md)
//   stats  job id + key -> opaque bytes with CRC-32C (calibration statistics per unit)
// A unit is committed atomically: its blobs and its record in one synced WriteBatch.
// Every read of a blob or stats value verifies its checksum.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor_blob.h"

namespace shardq {

enum class JobState { kQueued, kPlanning, kCalibrating, kCompressing, kAssembling, kDone, kFailed, kCancelled };
const char* JobStateName(JobState s);

struct JobRecord {
  std::string id;
  std::string spec_json;    // JobSpec::CanonicalJson()
  std::string fingerprint;  // SpecFingerprint(spec, model index): a resume must match it
  JobState state = JobState::kQueued;
  std::string error;        // why it failed
  // Calibrated jobs: a fingerprint of everything the statistics flow through
  // (the calibration text and every source tensor); a resume that finds it
  // changed recomputes every unit. Empty for uncalibrated jobs.
  std::string inputs_fingerprint;
  int64_t n_units = 0;
  int64_t created_unix = 0, updated_unix = 0;
};

struct UnitRecord {
  int64_t index = 0;
  std::string name;
  std::vector<std::string> tensors;
  int worker_rank = 0;
  double seconds = 0;
  // Of each tensor's source bytes as the worker read them (parallel to
  // `tensors`; source_fingerprint.h). Reused only if the model still matches.
  std::vector<uint32_t> source_fingerprints;
};

class StateStore {
 public:
  struct Impl;  // RocksDB's handles (state_store.cpp); named here for its open helpers

  // Damage found at open is repaired or the store is moved aside (see
  // recovery_note); IOError when another process has the directory open.
  static Result<std::unique_ptr<StateStore>> Open(const std::string& dir);
  ~StateStore();

  // Empty after a clean open; else what was wrong and what Open did about it.
  const std::string& recovery_note() const { return recovery_note_; }

  Status PutJob(const JobRecord& job);  // synced
  Result<std::optional<JobRecord>> GetJob(const std::string& id);
  Status SetJobState(const std::string& id, JobState state, const std::string& error = "");

  // Blobs + unit record in one synced WriteBatch. Verifies each blob's crc32c
  // first (an in-place blob's bytes are not here: the caller checked them).
  Status CommitUnit(const std::string& job_id, const UnitRecord& unit, const std::vector<TensorBlob>& blobs);
  // Committed units of a job, by index.
  Result<std::vector<UnitRecord>> ListUnits(const std::string& job_id);
  // Corruption (naming job, tensor) when the stored bytes do not match their checksum.
  Result<TensorBlob> GetBlob(const std::string& job_id, const std::string& tensor);
  // Forgets a unit (its record and blobs), so it is recomputed.
  Status DropUnit(const std::string& job_id, const UnitRecord& unit);

  Status PutStats(const std::string& job_id, const std::string& key, const std::vector<uint8_t>& value);
  Result<std::optional<std::vector<uint8_t>>> GetStats(const std::string& job_id, const std::string& key);
  // Synced; deleting a key that is not there is not an error.
  Status DeleteStats(const std::string& job_id, const std::string& key);

 private:
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string recovery_note_;
};

}  // namespace shardq
