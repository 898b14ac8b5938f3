#include "coordinator/store/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "common/crc32c.h"
#include "common/fault_injection.h"
#include "coordinator/store/state_records.h"

namespace shardq {
namespace {

// Column family names and the keys inside them: docs/formats.md, "State store keys".
constexpr const char* kJobs = "jobs";
constexpr const char* kUnits = "units";
constexpr const char* kBlobs = "blobs";
constexpr const char* kStats = "stats";

// Memtable size of the blobs family (RocksDB's default is 64 MiB): a unit's
// batch (tens of MB) lands whole anyway and is flushed to a blob file at once;
// 4 MiB rather than 16 saved ~15 MB of rank 0's peak RSS on the 2 GB bench.
constexpr size_t kBlobWriteBuffer = 4 << 20;
// Stats values from this size on skip the WAL and are flushed (PutStats).
constexpr size_t kLargeStats = 64 << 10;

// Job ids never contain a 0 byte (ParseJobSpec allows [A-Za-z0-9._-]), so
// "<id>\0" is a prefix that no other job's keys share.
std::string JobPrefix(const std::string& job_id) { return job_id + std::string(1, '\0'); }

// Big-endian so that RocksDB's byte order is the units' numeric order.
std::string UnitKey(const std::string& job_id, int64_t index) {
  std::string k = JobPrefix(job_id);
  const auto u = static_cast<uint64_t>(index);
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  return k;
}

std::string NamedKey(const std::string& job_id, const std::string& name) { return JobPrefix(job_id) + name; }

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The pipeline's forward order; failed/cancelled sit outside it.
int PipelineRank(JobState s) {
  switch (s) {
    case JobState::kQueued: return 0;
    case JobState::kPlanning: return 1;
    case JobState::kCalibrating: return 2;
    case JobState::kCompressing: return 3;
    case JobState::kAssembling: return 4;
    case JobState::kDone: return 5;
    default: return -1;
  }
}

// Forward along the pipeline (stages may be skipped: no calibration), to
// failed/cancelled from anything unfinished, and back to queued/planning from
// anything: that is a resume, which keeps the committed units (rerunning a done
// job re-verifies its units and reassembles the artifact).
bool TransitionAllowed(JobState from, JobState to) {
  if (from == to) return true;
  if (from == JobState::kDone) return to == JobState::kQueued || to == JobState::kPlanning;
  if (to == JobState::kFailed || to == JobState::kCancelled) return true;
  if (to == JobState::kQueued || to == JobState::kPlanning) return true;
  if (from == JobState::kFailed || from == JobState::kCancelled) return false;
  return PipelineRank(to) > PipelineRank(from);
}

}  // namespace

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kPlanning: return "planning";
    case JobState::kCalibrating: return "calibrating";
    case JobState::kCompressing: return "compressing";
    case JobState::kAssembling: return "assembling";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
  }
  return "?";
}

struct StateStore::Impl {
  std::string dir;
  bool read_only = false;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* jobs = nullptr;
  rocksdb::ColumnFamilyHandle* units = nullptr;
  rocksdb::ColumnFamilyHandle* blobs = nullptr;
  rocksdb::ColumnFamilyHandle* stats = nullptr;

  ~Impl() {
    if (db) {
      // A clean close moves everything from the WAL into table files, so what a
      // job leaves behind rests under per-block checksums (and the next open
      // does not replay a long log). Best effort: the WAL already holds it all.
      if (!read_only) db->Flush(rocksdb::FlushOptions(), handles);
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
      db->Close();
    }
  }

  // RocksDB's status as ours, naming the state dir and `what` (job, tensor).
  Status Convert(const rocksdb::Status& s, const std::string& what) const {
    const std::string msg = "state store " + dir + ": " + what + ": " + s.ToString();
    if (s.IsCorruption()) return Status::Corruption(msg);
    if (s.IsNotFound()) return Status::NotFound(msg);
    if (s.IsIOError()) return Status::IOError(msg);
    if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
    return Status::Internal(msg);
  }

  static rocksdb::WriteOptions Synced() {
    rocksdb::WriteOptions w;
    w.sync = true;  // a commit is on disk (WAL fsynced) before we say it is
    return w;
  }

  static rocksdb::ReadOptions Verified() {
    rocksdb::ReadOptions r;
    r.verify_checksums = true;
    return r;
  }

  // Blobs are read once each (verification at startup, assembly): caching them
  // would only evict the small records and grow the RSS. Their records carry a
  // CRC-32C over every byte (checked by DecodeTensorBlob with the CPU's crc32
  // instruction), so RocksDB's own check of blob-file records, a table-driven
  // CRC in this build at ~1.5 GB/s, would only read each tensor a second time.
  static rocksdb::ReadOptions BlobRead() {
    rocksdb::ReadOptions r;
    r.verify_checksums = false;
    r.fill_cache = false;
    return r;
  }

  // NotFound -> nullopt; other failures -> Status.
  Result<std::optional<std::string>> Get(rocksdb::ColumnFamilyHandle* cf, const std::string& key,
                                         const std::string& what) {
    std::string value;
    const rocksdb::Status s = db->Get(cf == blobs ? BlobRead() : Verified(), cf, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return Convert(s, what);
    return std::optional<std::string>(std::move(value));
  }
};

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::~StateStore() = default;

namespace {

// Opens the RocksDB at `dir` with shardq's options into `impl`.
rocksdb::Status OpenDb(const std::string& dir, StateStore::Impl* impl, bool read_only = false) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Salvaging a damaged store reads what it can rather than refusing at open.
  db_options.paranoid_checks = !read_only;
  // After kill -9 the WAL may end in a torn record: recover up to the last
  // complete write (every commit was synced, so none is lost) instead of
  // refusing to open.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.max_background_jobs = 2;
  // CommitUnit makes a unit durable by flushing the blobs and units families
  // together; this makes that flush one atomic MANIFEST record.
  db_options.atomic_flush = true;

  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::ColumnFamilyOptions blob_options;
  // Packed quantized weights do not compress; spend no CPU trying.
  blob_options.compression = rocksdb::kNoCompression;
  blob_options.blob_compression_type = rocksdb::kNoCompression;
  // Tensor records are large (MBs): kept in the LSM tree, every flush and
  // compaction would rewrite them all, on rank 0's CPU while it should be
  // committing units. In blob files they are written once at flush and
  // compaction moves only keys. Norm vectors and other small records stay in
  // the table files (64 KiB: a 4096-wide F32 row is 16 KiB).
  blob_options.enable_blob_files = true;
  blob_options.min_blob_size = 64 << 10;
  // No blob garbage collection: it relocates every live blob of the oldest
  // files at each compaction (0.5 s of rewriting on the 2 GB bench, while rank 0
  // assembles). Garbage comes only from a dropped unit, which is rare; a blob
  // file is deleted once none of its blobs is referenced.
  blob_options.enable_blob_garbage_collection = false;
  // The memtable holds whole records until a flush: a small one bounds rank 0's
  // RSS (a unit's batch lands whole whatever the size, then is flushed).
  blob_options.write_buffer_size = kBlobWriteBuffer;
  blob_options.max_write_buffer_number = 2;

  // Open every family the directory has (a later shardq may add some), ours
  // first; missing ones are created.
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, kJobs, kUnits, kBlobs, kStats};
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    for (const auto& n : existing)
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  // Stats hold calibration products too (a block's hidden states: MBs each),
  // so they get the blobs' layout and small memtable for the same reasons.
  for (const auto& n : names) descriptors.emplace_back(n, n == kBlobs || n == kStats ? blob_options : cf_options);

  rocksdb::DB* raw = nullptr;
  // Read-only: no flushes, no compactions (which would trip over damaged blocks).
  const rocksdb::Status s = read_only
                                ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &impl->handles, &raw)
                                : rocksdb::DB::Open(db_options, dir, descriptors, &impl->handles, &raw);
  if (!s.ok()) return s;
  impl->read_only = read_only;
  impl->db.reset(raw);
  impl->jobs = impl->handles[1];
  impl->units = impl->handles[2];
  impl->blobs = impl->handles[3];
  impl->stats = impl->handles[4];
  return s;
}

bool IsLockError(const rocksdb::Status& s) {
  // RocksDB holds an fcntl lock on <dir>/LOCK while open ("lock hold by
  // current process" within one process, EAGAIN from another).
  const std::string text = s.ToString();
  return s.IsIOError() && (text.find("LOCK") != std::string::npos || text.find("lock") != std::string::npos);
}

// Opens and reads every table block (and blob file) against its checksum.
rocksdb::Status OpenVerified(const std::string& dir, std::unique_ptr<StateStore::Impl>* impl) {
  *impl = std::make_unique<StateStore::Impl>();
  (*impl)->dir = dir;
  rocksdb::Status s = OpenDb(dir, impl->get());
  if (s.ok()) s = (*impl)->db->VerifyChecksum();
  if (!s.ok()) impl->reset();  // closes what did open
  return s;
}

struct SalvageCounts {
  int64_t units_kept = 0, units_lost = 0;
};

// Copies every record of the damaged store at `from` that still reads (and,
// for a unit, whose blobs all pass their CRC-32C) into a new store at `to`.
// Iteration of a family stops at its first unreadable block: what lies past it
// is lost, which only costs recomputation. Fails when `from` cannot be opened
// at all (its MANIFEST or CURRENT is gone).
Status Salvage(const std::string& from, const std::string& to, SalvageCounts* counts) {
  StateStore::Impl old;
  old.dir = from;
  rocksdb::Status s = OpenDb(from, &old, /*read_only=*/true);
  if (!s.ok()) return old.Convert(s, "opening read-only");
  StateStore::Impl fresh;
  fresh.dir = to;
  s = OpenDb(to, &fresh);
  if (!s.ok()) return fresh.Convert(s, "creating");
  auto copy_family = [&](rocksdb::ColumnFamilyHandle* src, rocksdb::ColumnFamilyHandle* dst) {
    std::unique_ptr<rocksdb::Iterator> it(old.db->NewIterator(StateStore::Impl::Verified(), src));
    for (it->SeekToFirst(); it->Valid(); it->Next()) fresh.db->Put(rocksdb::WriteOptions(), dst, it->key(), it->value());
  };
  copy_family(old.jobs, fresh.jobs);
  copy_family(old.stats, fresh.stats);
  std::unique_ptr<rocksdb::Iterator> it(old.db->NewIterator(StateStore::Impl::Verified(), old.units));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    const size_t id_end = key.find('\0');  // unit keys are JobPrefix(id) + index
    Result<UnitRecord> u = DecodeUnitRecord(it->value().ToString(), "unit");
    bool good = u.ok() && id_end != std::string::npos;
    rocksdb::WriteBatch batch;
    if (good) {
      const std::string job_id = key.substr(0, id_end);
      for (const std::string& name : u->tensors) {
        std::string value;
        if (!old.db->Get(StateStore::Impl::BlobRead(), old.blobs, NamedKey(job_id, name), &value).ok() ||
            !DecodeTensorBlob(reinterpret_cast<const uint8_t*>(value.data()), value.size(), name).ok()) {
          good = false;
          break;
        }
        batch.Put(fresh.blobs, NamedKey(job_id, name), value);
      }
    }
    if (!good) {
      ++counts->units_lost;
      continue;
    }
    batch.Put(fresh.units, it->key(), it->value());
    s = fresh.db->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return fresh.Convert(s, "writing salvaged unit");
    ++counts->units_kept;
  }
  // Everything salvaged is in table files before the swap.
  s = fresh.db->Flush(rocksdb::FlushOptions(), fresh.handles);
  return s.ok() ? Status::OK() : fresh.Convert(s, "flushing salvaged records");
}

}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir) {
  // A damaged store must never leave the user stuck. Damage found at open
  // (RocksDB's paranoid checks and a full checksum pass) is salvaged: every
  // record that still reads is copied into a fresh store (Salvage), the damaged
  // one is moved aside, and units that were lost are recomputed. A store that
  // cannot be opened at all is moved aside and the job starts over. Not
  // RocksDB's RepairDB: it dropped the blob files, and closing the repaired
  // store hung here.
  std::unique_ptr<Impl> impl;
  rocksdb::Status s = OpenVerified(dir, &impl);
  std::string note;
  if (!s.ok() && IsLockError(s))
    return Status::IOError("state dir " + dir + " is in use by another shardq (" + s.ToString() + ")");
  if (!s.ok() && (s.IsCorruption() || s.IsIOError() || s.IsNotFound())) {
    note = "state store " + dir + " is damaged (" + s.ToString() + ")";
    const std::string stamp = std::to_string(NowUnix());
    const std::string fresh = dir + ".salvage-" + stamp, aside = dir + ".damaged-" + stamp;
    SalvageCounts counts;
    std::error_code ec;
    std::filesystem::remove_all(fresh, ec);
    const Status salvaged = Salvage(dir, fresh, &counts);
    std::filesystem::rename(dir, aside, ec);
    if (ec) {
      std::filesystem::remove_all(fresh, ec);
      return Status::IOError(note + "; cannot move it aside to " + aside + ": " + ec.message());
    }
    if (salvaged.ok()) {
      std::filesystem::rename(fresh, dir, ec);
      if (ec)
        return Status::IOError(note + "; moved aside to " + aside + ", but the salvaged store " + fresh +
                               " cannot be moved to " + dir + ": " + ec.message());
      note += "; moved aside to " + aside + "; " + std::to_string(counts.units_kept) +
              " committed unit(s) whose records all read back were kept, " + std::to_string(counts.units_lost) +
              " dropped (they are recomputed)";
    } else {
      std::filesystem::remove_all(fresh, ec);
      std::filesystem::create_directories(dir, ec);
      note += "; nothing could be read from it (" + salvaged.message() + "): moved aside to " + aside +
              ", the job starts over";
    }
    s = OpenVerified(dir, &impl);
  }
  if (!s.ok()) {
    Impl named;
    named.dir = dir;
    return named.Convert(s, "cannot open");
  }
  auto store = std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
  store->recovery_note_ = note;
  return store;
}

Status StateStore::PutJob(const JobRecord& job) {
  if (job.id.empty() || job.id.find('\0') != std::string::npos) {
    return Status::InvalidArgument("state store " + impl_->dir + ": job id '" + job.id + "' is empty or has a 0 byte");
  }
  JobRecord r = job;
  const int64_t now = NowUnix();
  if (r.created_unix == 0) r.created_unix = now;
  r.updated_unix = now;
  SHARDQ_ASSIGN_OR_RETURN(std::string value, EncodeJobRecord(r, "state store " + impl_->dir + ": job " + r.id));
  const rocksdb::Status s = impl_->db->Put(Impl::Synced(), impl_->jobs, r.id, value);
  return s.ok() ? Status::OK() : impl_->Convert(s, "job " + job.id);
}

Result<std::optional<JobRecord>> StateStore::GetJob(const std::string& id) {
  const std::string what = "state store " + impl_->dir + ": job " + id;
  SHARDQ_ASSIGN_OR_RETURN(auto value, impl_->Get(impl_->jobs, id, "job " + id));
  if (!value) return std::optional<JobRecord>();
  SHARDQ_ASSIGN_OR_RETURN(JobRecord r, DecodeJobRecord(*value, what));
  if (r.id != id) return Status::Corruption(what + ": record names job '" + r.id + "'");
  return std::optional<JobRecord>(std::move(r));
}

Status StateStore::SetJobState(const std::string& id, JobState state, const std::string& error) {
  SHARDQ_ASSIGN_OR_RETURN(auto job, GetJob(id));
  if (!job) return Status::NotFound("state store " + impl_->dir + ": job " + id + ": no such job");
  if (!TransitionAllowed(job->state, state)) {
    return Status::InvalidArgument("state store " + impl_->dir + ": job " + id + ": cannot go from " +
                                   JobStateName(job->state) + " to " + JobStateName(state));
  }
  job->state = state;
  job->error = error;
  return PutJob(*job);
}

Status StateStore::CommitUnit(const std::string& job_id, const UnitRecord& unit, const std::vector<TensorBlob>& blobs) {
  const std::string what = "state store " + impl_->dir + ": job " + job_id + ": unit " +
                           std::to_string(unit.index) + " (" + unit.name + ")";
  if (job_id.empty() || job_id.find('\0') != std::string::npos) return Status::InvalidArgument(what + ": bad job id");
  if (unit.index < 0) return Status::InvalidArgument(what + ": negative unit index");
  UnitRecord record = unit;
  std::set<std::string> blob_names;
  for (const auto& b : blobs) {
    // The worker's checksum is checked before anything is written: a blob
    // damaged in flight must be recomputed, never committed. (An in-place
    // blob's bytes are in the artifact's temp file, checked there by rank 0.)
    if (!b.in_place && Crc32c(b.bytes.data(), b.bytes.size()) != b.crc32c) {
      return Status::Corruption(what + ": tensor '" + b.name + "': checksum of the tensor bytes does not match");
    }
    if (b.name.empty()) return Status::InvalidArgument(what + ": a blob has no tensor name");
    if (!blob_names.insert(b.name).second) return Status::InvalidArgument(what + ": tensor '" + b.name + "' given twice");
  }
  // The record lists exactly the unit's blobs, so ListUnits + GetBlob can
  // always find every tensor of a committed unit.
  if (record.tensors.empty()) {
    for (const auto& b : blobs) record.tensors.push_back(b.name);
  } else {
    const std::set<std::string> listed(record.tensors.begin(), record.tensors.end());
    for (const auto& n : listed)
      if (!blob_names.count(n)) return Status::InvalidArgument(what + ": tensor '" + n + "' has no blob");
    for (const auto& n : blob_names)
      if (!listed.count(n)) return Status::InvalidArgument(what + ": blob '" + n + "' is not one of the unit's tensors");
  }
  // One batch, made durable by a flush instead of the WAL: the blobs and the
  // record skip the log and both families are flushed together (atomic_flush:
  // one MANIFEST record for both, so after a crash the unit is whole or absent).
  // Logging tens of MB per unit only to write them again at the flush cost rank
  // 0 over a third of its CPU on the 2 GB bench (a second copy into the page
  // cache and a second software CRC of every byte).
  rocksdb::WriteBatch batch;
  for (const auto& b : blobs) {
    const std::vector<uint8_t> rec = EncodeTensorBlob(b);
    const rocksdb::Status s = batch.Put(impl_->blobs, NamedKey(job_id, b.name),
                                        rocksdb::Slice(reinterpret_cast<const char*>(rec.data()), rec.size()));
    if (!s.ok()) return impl_->Convert(s, "job " + job_id + ": tensor '" + b.name + "'");
  }
  SHARDQ_ASSIGN_OR_RETURN(std::string value, EncodeUnitRecord(record, what));
  const std::string unit_what = "job " + job_id + ": unit " + std::to_string(unit.index);
  rocksdb::Status s = batch.Put(impl_->units, UnitKey(job_id, unit.index), value);
  rocksdb::WriteOptions unlogged;
  unlogged.disableWAL = true;
  if (s.ok()) s = impl_->db->Write(unlogged, &batch);
  FaultPoint("commit-written");
  if (s.ok()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    flush.allow_write_stall = true;
    s = impl_->db->Flush(flush, {impl_->blobs, impl_->units});
  }
  return s.ok() ? Status::OK() : impl_->Convert(s, unit_what);
}

Result<std::vector<UnitRecord>> StateStore::ListUnits(const std::string& job_id) {
  const std::string prefix = JobPrefix(job_id);
  std::vector<UnitRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(Impl::Verified(), impl_->units));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const rocksdb::Slice key = it->key();
    const std::string what = "state store " + impl_->dir + ": job " + job_id + ": unit key";
    if (key.size() != prefix.size() + 8) return Status::Corruption(what + " has " + std::to_string(key.size()) + " bytes");
    uint64_t index = 0;
    for (size_t i = prefix.size(); i < key.size(); ++i) index = (index << 8) | static_cast<uint8_t>(key[i]);
    const std::string uwhat = "state store " + impl_->dir + ": job " + job_id + ": unit " + std::to_string(index);
    SHARDQ_ASSIGN_OR_RETURN(UnitRecord u, DecodeUnitRecord(it->value().ToString(), uwhat));
    if (static_cast<uint64_t>(u.index) != index) {
      return Status::Corruption(uwhat + ": record says index " + std::to_string(u.index));
    }
    out.push_back(std::move(u));
  }
  if (!it->status().ok()) return impl_->Convert(it->status(), "job " + job_id + ": listing units");
  return out;
}

Result<TensorBlob> StateStore::GetBlob(const std::string& job_id, const std::string& tensor) {
  const std::string what = "job " + job_id + ": tensor '" + tensor + "'";
  SHARDQ_ASSIGN_OR_RETURN(auto value, impl_->Get(impl_->blobs, NamedKey(job_id, tensor), what));
  const std::string label = "state store " + impl_->dir + ": " + what;
  if (!value) return Status::NotFound(label + ": no blob");
  SHARDQ_ASSIGN_OR_RETURN(TensorBlob blob, DecodeTensorBlob(reinterpret_cast<const uint8_t*>(value->data()),
                                                            value->size(), label));
  if (blob.name != tensor) return Status::Corruption(label + ": record holds tensor '" + blob.name + "'");
  return blob;
}

Status StateStore::DropUnit(const std::string& job_id, const UnitRecord& unit) {
  // The stored record's tensors too: the caller's copy may be stale, and a
  // blob left behind would be served by GetBlob after a recompute failed.
  std::set<std::string> tensors(unit.tensors.begin(), unit.tensors.end());
  const std::string key = UnitKey(job_id, unit.index);
  std::string value;
  const rocksdb::Status gs = impl_->db->Get(Impl::Verified(), impl_->units, key, &value);
  if (gs.ok()) {
    auto stored = DecodeUnitRecord(value, "unit");
    if (stored.ok()) tensors.insert(stored->tensors.begin(), stored->tensors.end());
    // A damaged record is dropped all the same: that is what dropping is for.
  } else if (!gs.IsNotFound() && !gs.IsCorruption()) {
    return impl_->Convert(gs, "job " + job_id + ": unit " + std::to_string(unit.index));
  }
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Delete(impl_->units, key);
  for (const auto& t : tensors)
    if (s.ok()) s = batch.Delete(impl_->blobs, NamedKey(job_id, t));
  if (s.ok()) s = impl_->db->Write(Impl::Synced(), &batch);
  return s.ok() ? Status::OK() : impl_->Convert(s, "job " + job_id + ": dropping unit " + std::to_string(unit.index));
}

Status StateStore::PutStats(const std::string& job_id, const std::string& key, const std::vector<uint8_t>& value) {
  const uint32_t crc = Crc32c(value.data(), value.size());
  char crc_bytes[4];
  for (int i = 0; i < 4; ++i) crc_bytes[i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  const std::string full_key = NamedKey(job_id, key);
  const rocksdb::Slice key_part(full_key);
  const rocksdb::Slice value_parts[2] = {rocksdb::Slice(reinterpret_cast<const char*>(value.data()), value.size()),
                                         rocksdb::Slice(crc_bytes, 4)};
  const std::string what = "job " + job_id + ": stats '" + key + "'";
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Put(impl_->stats, rocksdb::SliceParts(&key_part, 1), rocksdb::SliceParts(value_parts, 2));
  if (!s.ok()) return impl_->Convert(s, what);
  if (value.size() < kLargeStats) {
    s = impl_->db->Write(Impl::Synced(), &batch);
    return s.ok() ? Status::OK() : impl_->Convert(s, what);
  }
  // A large value (a calibration product) is made durable as a unit is: written
  // without the WAL, then its family flushed (straight into a blob file), not
  // logged and written again.
  rocksdb::WriteOptions unlogged;
  unlogged.disableWAL = true;
  s = impl_->db->Write(unlogged, &batch);
  if (s.ok()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    flush.allow_write_stall = true;
    s = impl_->db->Flush(flush, {impl_->stats});
  }
  return s.ok() ? Status::OK() : impl_->Convert(s, what);
}

Result<std::optional<std::vector<uint8_t>>> StateStore::GetStats(const std::string& job_id, const std::string& key) {
  const std::string what = "job " + job_id + ": stats '" + key + "'";
  SHARDQ_ASSIGN_OR_RETURN(auto value, impl_->Get(impl_->stats, NamedKey(job_id, key), what));
  if (!value) return std::optional<std::vector<uint8_t>>();
  const std::string label = "state store " + impl_->dir + ": " + what;
  if (value->size() < 4) return Status::Corruption(label + ": value of " + std::to_string(value->size()) + " bytes");
  const size_t n = value->size() - 4;
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= static_cast<uint32_t>(static_cast<uint8_t>((*value)[n + i])) << (8 * i);
  if (Crc32c(value->data(), n) != stored) return Status::Corruption(label + ": checksum mismatch");
  return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(value->begin(), value->begin() + n));
}

Status StateStore::DeleteStats(const std::string& job_id, const std::string& key) {
  const rocksdb::Status s = impl_->db->Delete(Impl::Synced(), impl_->stats, NamedKey(job_id, key));
  return s.ok() ? Status::OK() : impl_->Convert(s, "job " + job_id + ": deleting stats '" + key + "'");
}

}  // namespace shardq
