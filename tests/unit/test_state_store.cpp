// Tensor blob records and the RocksDB state store: round trips, checksums that
// catch flipped bytes (in memory and in the DB files on disk), job states,
// unit commits that stay atomic across kill -9.
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "common/tensor_blob.h"
#include "coordinator/store/state_store.h"
#include "tests/unit/test_util.h"

// Every fsync/fdatasync of this process, by path, while a test listens: RocksDB (a
// shared library) calls these through the dynamic linker, so definitions here come
// first; each forwards to libc's.
namespace sync_spy {
std::mutex mu;
bool listening = false;
std::vector<std::string> synced;
void Record(int fd) {
  std::lock_guard<std::mutex> lock(mu);
  if (!listening) return;
  char link[64], path[4096];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof(path) - 1);
  if (n > 0) synced.emplace_back(path, static_cast<size_t>(n));
}
}  // namespace sync_spy

extern "C" int fsync(int fd) {
  static auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fsync"));
  sync_spy::Record(fd);
  return real(fd);
}
extern "C" int fdatasync(int fd) {
  static auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fdatasync"));
  sync_spy::Record(fd);
  return real(fd);
}

namespace shardq {
namespace {

// A deterministic F32 blob: the bytes depend only on (unit, k), so a reader
// in another process can check what it finds.
TensorBlob MakeBlob(int64_t unit, int k, int64_t rows = 0) {
  TensorBlob b;
  b.name = "blk." + std::to_string(unit) + ".t" + std::to_string(k) + ".weight";
  b.type = GgmlType::F32;
  uint64_t s = static_cast<uint64_t>(unit) * 1000003u + static_cast<uint64_t>(k) * 7919u + 1;
  auto next = [&s] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint8_t>(s >> 56);
  };
  if (rows == 0) rows = 16 + (next() % 8) * 64;  // up to ~115 KiB per blob
  b.shape = {rows, 64};
  b.bytes.resize(static_cast<size_t>(rows) * 64 * 4);
  for (auto& x : b.bytes) x = next();
  b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
  b.metrics = {1.5, 300.25, 0.125, rows * 64};
  b.reason = "preset";
  return b;
}

UnitRecord MakeUnit(int64_t index, int n_blobs) {
  UnitRecord u;
  u.index = index;
  u.name = "blk." + std::to_string(index);
  for (int k = 0; k < n_blobs; ++k) u.tensors.push_back(MakeBlob(index, k, 1).name);
  u.worker_rank = 1 + static_cast<int>(index % 3);
  u.seconds = 0.25 * static_cast<double>(index);
  return u;
}

std::vector<TensorBlob> MakeBlobs(int64_t index, int n_blobs) {
  std::vector<TensorBlob> v;
  for (int k = 0; k < n_blobs; ++k) v.push_back(MakeBlob(index, k));
  return v;
}

std::unique_ptr<StateStore> OpenOrDie(const std::string& dir) {
  auto r = StateStore::Open(dir);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r).value();
}

bool Contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("tensor blob: encode/decode round trip and fixed layout", "[state]") {
  TensorBlob b;
  b.name = "ab";
  b.type = GgmlType::Q8_0;
  b.shape = {1, 32};
  b.bytes.resize(34);
  for (size_t i = 0; i < b.bytes.size(); ++i) b.bytes[i] = static_cast<uint8_t>(i * 7);
  b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
  b.metrics = {0.5, 2.0, 0.25, 32};
  b.reason = "x";
  const std::vector<uint8_t> rec = EncodeTensorBlob(b);
  // magic 4 + version 4 + name 4+2 + type 4 + ndims 4 + shape 16 + metrics 32 +
  // reason 4+1 + nbytes 8 + bytes 34 + crc 4 + record crc 4
  REQUIRE(rec.size() == 125);
  CHECK(std::string(rec.begin(), rec.begin() + 4) == "SQTB");
  CHECK(rec[4] == 1);  // version, little-endian
  CHECK(rec[8] == 2);  // name length
  CHECK(rec[12] == 'a');
  CHECK(rec[14] == 8);  // Q8_0's ggml id
  CHECK(rec[18] == 2);  // two dims
  CHECK(rec[22] == 1);  // shape[0] = 1
  CHECK(rec[30] == 32); // shape[1] = 32
  // sum_sq_err 0.5 as an IEEE double: 0x3FE0000000000000, little-endian.
  CHECK(rec[38 + 7] == 0x3F);
  CHECK(rec[38 + 6] == 0xE0);
  CHECK(rec[62] == 32);   // count
  CHECK(rec[70] == 1);    // reason length
  CHECK(rec[74] == 'x');
  CHECK(rec[75] == 34);   // byte count
  CHECK(rec[83] == 0);    // first tensor byte
  CHECK(rec[84] == 7);
  const uint32_t crc = Crc32c(b.bytes.data(), b.bytes.size());
  CHECK(rec[117] == (crc & 0xff));
  CHECK(rec[120] == (crc >> 24));
  const uint32_t rcrc = Crc32c(rec.data(), rec.size() - 4);
  CHECK(rec[121] == (rcrc & 0xff));
  CHECK(rec[124] == (rcrc >> 24));

  auto d = DecodeTensorBlob(rec.data(), rec.size(), "test");
  REQUIRE(d.ok());
  CHECK(d->name == "ab");
  CHECK(d->type == GgmlType::Q8_0);
  CHECK(d->shape == std::vector<int64_t>{1, 32});
  CHECK((d->bytes == b.bytes));  // a bool: Catch would print whole vectors
  CHECK(d->crc32c == crc);
  CHECK(d->metrics.sum_sq_err == 0.5);
  CHECK(d->metrics.sum_sq_ref == 2.0);
  CHECK(d->metrics.max_abs_err == 0.25);
  CHECK(d->metrics.count == 32);
  CHECK(d->reason == "x");

  const TensorBlob big = MakeBlob(3, 1);
  const auto rec2 = EncodeTensorBlob(big);
  auto d2 = DecodeTensorBlob(rec2.data(), rec2.size(), "test");
  REQUIRE(d2.ok());
  CHECK((d2->bytes == big.bytes));
  CHECK(d2->shape == big.shape);
}

TEST_CASE("tensor blob: an in-place record (version 2) has its size, CRC and SHA-256 but no bytes", "[state]") {
  TensorBlob b;
  b.name = "ab";
  b.type = GgmlType::Q8_0;
  b.shape = {1, 32};
  b.reason = "x";
  b.metrics = {0.5, 2.0, 0.25, 32};
  b.in_place = true;
  b.in_place_size = 34;
  b.crc32c = 0x11223344;
  for (int i = 0; i < 32; ++i) b.sha256.push_back(static_cast<uint8_t>(0xa0 + i));
  const std::vector<uint8_t> rec = EncodeTensorBlob(b);
  // As version 1 up to the byte count, then 32 digest bytes instead of the
  // tensor: 83 + 32 + crc 4 + record crc 4.
  REQUIRE(rec.size() == 123);
  CHECK(rec[4] == 2);     // version
  CHECK(rec[75] == 34);   // the size of the bytes elsewhere
  CHECK(rec[83] == 0xa0); // the digest, in order
  CHECK(rec[114] == 0xbf);
  CHECK(rec[115] == 0x44);  // bytes_crc, little-endian
  CHECK(rec[118] == 0x11);
  auto d = DecodeTensorBlob(rec.data(), rec.size(), "test");
  REQUIRE(d.ok());
  CHECK(d->in_place);
  CHECK(d->in_place_size == 34);
  CHECK(d->size() == 34);
  CHECK(d->bytes.empty());
  CHECK(d->crc32c == 0x11223344u);
  CHECK((d->sha256 == b.sha256));
  CHECK(d->reason == "x");
  // Every flipped byte and every truncation is an error.
  for (size_t i = 0; i < rec.size(); ++i) {
    std::vector<uint8_t> bad = rec;
    bad[i] ^= 0x20;
    CHECK_FALSE(DecodeTensorBlob(bad.data(), bad.size(), "test").ok());
  }
  for (size_t n = 0; n < rec.size(); ++n) CHECK_FALSE(DecodeTensorBlob(rec.data(), n, "test").ok());
}

TEST_CASE("tensor blob: a flipped byte anywhere is Corruption, never a crash", "[state]") {
  TensorBlob b = MakeBlob(0, 0, 2);  // 512 bytes of tensor data
  const std::vector<uint8_t> rec = EncodeTensorBlob(b);
  // Every byte of every region: header, name, shape, metrics, reason, data, both CRCs.
  for (size_t i = 0; i < rec.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::vector<uint8_t> bad = rec;
      bad[i] ^= mask;
      auto d = DecodeTensorBlob(bad.data(), bad.size(), "db");
      INFO("byte " << i);
      REQUIRE_FALSE(d.ok());
      CHECK(d.status().code() == Status::Code::kCorruption);
      CHECK(d.status().message().rfind("db: ", 0) == 0);
    }
  }
  // Errors past the name name the tensor.
  std::vector<uint8_t> bad = rec;
  bad[rec.size() - 100] ^= 0x10;  // inside the tensor bytes
  auto d = DecodeTensorBlob(bad.data(), bad.size(), "db");
  REQUIRE_FALSE(d.ok());
  CHECK(Contains(d.status().message(), "tensor 'blk.0.t0.weight'"));
  CHECK(Contains(d.status().message(), "checksum"));
  // Truncated at every length, and trailing bytes.
  for (size_t n = 0; n < rec.size(); n += 7) {
    auto t = DecodeTensorBlob(rec.data(), n, "db");
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() == Status::Code::kCorruption);
  }
  std::vector<uint8_t> longer = rec;
  longer.push_back(0);
  CHECK_FALSE(DecodeTensorBlob(longer.data(), longer.size(), "db").ok());
  CHECK_FALSE(DecodeTensorBlob(nullptr, 0, "db").ok());

  // A worker's wrong CRC survives encoding and is caught by the decoder.
  TensorBlob wrong = b;
  wrong.crc32c ^= 1;
  const auto wrec = EncodeTensorBlob(wrong);
  auto w = DecodeTensorBlob(wrec.data(), wrec.size(), "db");
  REQUIRE_FALSE(w.ok());
  CHECK(Contains(w.status().message(), "checksum of the tensor bytes"));

  // Consistent record, inconsistent tensor: bytes that do not fit type x shape.
  TensorBlob shapeless = b;
  shapeless.shape = {3, 64};
  const auto srec = EncodeTensorBlob(shapeless);
  auto s = DecodeTensorBlob(srec.data(), srec.size(), "db");
  REQUIRE_FALSE(s.ok());
  CHECK(Contains(s.status().message(), "512 bytes, but F32 of this shape needs 768"));
}

TEST_CASE("state store: jobs, states and stats", "[state]") {
  const std::string dir = testing::MakeTempDir("state_jobs") + "/db";
  auto store = OpenOrDie(dir);

  // A second opener is refused with a message naming the directory.
  auto again = StateStore::Open(dir);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Status::Code::kIOError);
  CHECK(Contains(again.status().message(), "state dir " + dir + " is in use by another shardq"));

  auto none = store->GetJob("job-1");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  CHECK(store->SetJobState("job-1", JobState::kPlanning).code() == Status::Code::kNotFound);

  JobRecord j;
  j.id = "job-1";
  j.spec_json = R"({"model":"m"})";
  j.fingerprint = "abc";
  j.n_units = 8;
  REQUIRE(store->PutJob(j).ok());
  auto got = store->GetJob("job-1");
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->spec_json == j.spec_json);
  CHECK((*got)->fingerprint == "abc");
  CHECK((*got)->n_units == 8);
  CHECK((*got)->state == JobState::kQueued);
  CHECK((*got)->created_unix > 1600000000);

  REQUIRE(store->SetJobState("job-1", JobState::kPlanning).ok());
  REQUIRE(store->SetJobState("job-1", JobState::kCompressing).ok());  // no calibration: skipped
  Status back = store->SetJobState("job-1", JobState::kCalibrating);
  CHECK(back.code() == Status::Code::kInvalidArgument);
  CHECK(Contains(back.message(), "job-1: cannot go from compressing to calibrating"));
  REQUIRE(store->SetJobState("job-1", JobState::kFailed, "rank 3 lost").ok());
  auto failed = store->GetJob("job-1");
  REQUIRE(failed.ok());
  CHECK((*failed)->state == JobState::kFailed);
  CHECK((*failed)->error == "rank 3 lost");
  CHECK_FALSE(store->SetJobState("job-1", JobState::kAssembling).ok());  // must resume via planning
  REQUIRE(store->SetJobState("job-1", JobState::kPlanning).ok());        // resume
  REQUIRE(store->SetJobState("job-1", JobState::kCalibrating).ok());
  REQUIRE(store->SetJobState("job-1", JobState::kCompressing).ok());
  REQUIRE(store->SetJobState("job-1", JobState::kAssembling).ok());
  REQUIRE(store->SetJobState("job-1", JobState::kDone).ok());
  CHECK(Contains(store->SetJobState("job-1", JobState::kCompressing).message(), "cannot go from done to compressing"));
  CHECK_FALSE(store->SetJobState("job-1", JobState::kCancelled).ok());
  REQUIRE(store->SetJobState("job-1", JobState::kPlanning).ok());  // a rerun re-opens a done job
  CHECK(std::string(JobStateName(JobState::kCancelled)) == "cancelled");

  const std::vector<uint8_t> stats = {1, 2, 3, 250};
  REQUIRE(store->PutStats("job-1", "unit.3", stats).ok());
  auto s = store->GetStats("job-1", "unit.3");
  REQUIRE(s.ok());
  REQUIRE(s->has_value());
  CHECK(**s == stats);
  auto missing = store->GetStats("job-1", "unit.4");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  auto other_job = store->GetStats("job-2", "unit.3");
  REQUIRE(other_job.ok());
  CHECK_FALSE(other_job->has_value());

  store.reset();
  auto reopened = OpenOrDie(dir);
  auto done = reopened->GetJob("job-1");
  REQUIRE(done.ok());
  CHECK((*done)->state == JobState::kPlanning);  // the last state set before closing
  auto s2 = reopened->GetStats("job-1", "unit.3");
  REQUIRE(s2.ok());
  CHECK(**s2 == stats);
}

TEST_CASE("state store: units commit atomically, survive reopen, drop", "[state]") {
  const std::string dir = testing::MakeTempDir("state_units") + "/db";
  {
    auto store = OpenOrDie(dir);
    // Committed out of order; listed by index (big-endian keys), 256 > 255 included.
    for (int64_t i : {2, 0, 256, 1}) REQUIRE(store->CommitUnit("job-a", MakeUnit(i, 3), MakeBlobs(i, 3)).ok());
    // Another job whose id extends this one's shares no keys with it.
    REQUIRE(store->CommitUnit("job-ab", MakeUnit(7, 1), MakeBlobs(7, 1)).ok());

    // A blob whose bytes do not match the worker's CRC is refused; nothing is written.
    auto blobs = MakeBlobs(5, 3);
    blobs[1].bytes[10] ^= 0x04;
    Status st = store->CommitUnit("job-a", MakeUnit(5, 3), blobs);
    CHECK(st.code() == Status::Code::kCorruption);
    CHECK(Contains(st.message(), "job job-a: unit 5 (blk.5): tensor 'blk.5.t1.weight': checksum"));
    CHECK(store->GetBlob("job-a", "blk.5.t0.weight").status().code() == Status::Code::kNotFound);

    // The record and the blobs must agree.
    CHECK(store->CommitUnit("job-a", MakeUnit(6, 3), MakeBlobs(6, 2)).code() == Status::Code::kInvalidArgument);
  }
  auto store = OpenOrDie(dir);
  auto units = store->ListUnits("job-a");
  REQUIRE(units.ok());
  REQUIRE(units->size() == 4);
  CHECK((*units)[0].index == 0);
  CHECK((*units)[1].index == 1);
  CHECK((*units)[2].index == 2);
  CHECK((*units)[3].index == 256);
  CHECK((*units)[3].name == "blk.256");
  CHECK((*units)[3].worker_rank == 2);
  CHECK((*units)[3].seconds == 64.0);
  CHECK((*units)[1].tensors == MakeUnit(1, 3).tensors);
  for (const auto& u : *units) {
    for (size_t k = 0; k < u.tensors.size(); ++k) {
      auto b = store->GetBlob("job-a", u.tensors[k]);
      REQUIRE(b.ok());
      const TensorBlob want = MakeBlob(u.index, static_cast<int>(k));
      CHECK((b->bytes == want.bytes));
      CHECK(b->shape == want.shape);
      CHECK(b->metrics.sum_sq_ref == 300.25);
      CHECK(b->reason == "preset");
    }
  }
  auto ab = store->ListUnits("job-ab");
  REQUIRE(ab.ok());
  REQUIRE(ab->size() == 1);
  CHECK((*ab)[0].index == 7);
  CHECK(store->GetBlob("job-a", "blk.7.t0.weight").status().code() == Status::Code::kNotFound);
  auto empty = store->ListUnits("job-");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  // DropUnit forgets the record and its blobs, even when given a stale copy.
  UnitRecord stale = (*units)[1];
  stale.tensors.clear();
  REQUIRE(store->DropUnit("job-a", stale).ok());
  auto after = store->ListUnits("job-a");
  REQUIRE(after.ok());
  REQUIRE(after->size() == 3);
  CHECK((*after)[1].index == 2);
  Status gone = store->GetBlob("job-a", "blk.1.t0.weight").status();
  CHECK(gone.code() == Status::Code::kNotFound);
  CHECK(Contains(gone.message(), "job job-a: tensor 'blk.1.t0.weight'"));
  CHECK(store->GetBlob("job-a", "blk.2.t0.weight").ok());
  // Recommitting it works (a recompute).
  REQUIRE(store->CommitUnit("job-a", MakeUnit(1, 3), MakeBlobs(1, 3)).ok());
  CHECK(store->ListUnits("job-a")->size() == 4);
}

TEST_CASE("state store: a byte flipped in the DB files is found at open and the damaged unit dropped", "[state]") {
  namespace fs = std::filesystem;
  const std::string dir = testing::MakeTempDir("state_flip") + "/db";
  const TensorBlob blob = MakeBlob(0, 0, 64);  // 16 KiB: one recognisable run of bytes
  UnitRecord unit;
  unit.index = 0;
  unit.name = "blk.0";
  unit.tensors = {blob.name};
  REQUIRE(OpenOrDie(dir)->CommitUnit("job-f", unit, {blob}).ok());
  // Reopening replays the WAL and flushes it to an SST file, where the value now lives.
  OpenOrDie(dir).reset();

  const std::vector<uint8_t> needle(blob.bytes.begin() + 8000, blob.bytes.begin() + 8064);
  int flipped = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".sst") continue;
    std::vector<uint8_t> bytes = testing::ReadFileBytes(e.path().string());
    auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    if (it == bytes.end()) continue;
    const auto at = static_cast<std::streamoff>(it - bytes.begin() + 17);
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(at);
    const char c = static_cast<char>(bytes[static_cast<size_t>(at)] ^ 0x20);
    f.write(&c, 1);
    ++flipped;
  }
  REQUIRE(flipped == 1);

  // Found at open (full checksum pass), not at the first read: what still reads
  // is salvaged into a fresh store, the damaged directory is moved aside.
  auto store = OpenOrDie(dir);
  INFO(store->recovery_note());
  CHECK(Contains(store->recovery_note(), "is damaged"));
  CHECK(Contains(store->recovery_note(), "0 committed unit(s) whose records all read back were kept, 1 dropped"));
  int aside = 0;
  for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path()))
    if (e.path().filename().string().starts_with("db.damaged-")) ++aside;
  CHECK(aside == 1);
  auto units = store->ListUnits("job-f");
  REQUIRE(units.ok());
  CHECK(units->empty());
  auto b = store->GetBlob("job-f", blob.name);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().code() == Status::Code::kNotFound);
  // Recompute: commit again, read back; the next open is clean.
  REQUIRE(store->CommitUnit("job-f", unit, {blob}).ok());
  store.reset();
  store = OpenOrDie(dir);
  CHECK(store->recovery_note().empty());
  auto again = store->GetBlob("job-f", blob.name);
  REQUIRE(again.ok());
  CHECK((again->bytes == blob.bytes));
}

// Run only as the child of the crash test (hidden tag): commits units until killed,
// writing one byte to SHARDQ_STATE_CRASH_FD after each commit returned OK.
TEST_CASE("state store crash child", "[.state_crash_child]") {
  const char* dir = std::getenv("SHARDQ_STATE_CRASH_DIR");
  const char* fd_text = std::getenv("SHARDQ_STATE_CRASH_FD");
  if (!dir || !fd_text) SHARDQ_SKIP("only run as the child of the kill -9 test");
  const int fd = std::atoi(fd_text);
  auto opened = StateStore::Open(dir);
  if (!opened.ok()) _exit(2);
  auto units = (*opened)->ListUnits("job-c");
  if (!units.ok()) _exit(3);
  for (int64_t i = static_cast<int64_t>(units->size()); i < 10000; ++i) {
    if (!(*opened)->CommitUnit("job-c", MakeUnit(i, 4), MakeBlobs(i, 4)).ok()) _exit(4);
    const char one = 1;
    if (write(fd, &one, 1) != 1) _exit(5);
  }
  _exit(0);
}

// What this proves: commits are atomic across a process crash (kill -9), and a commit
// acknowledged to the caller is visible after reopening. It does not prove durability
// across power loss or a kernel crash: after kill -9 the page cache survives, so a
// commit that was never fsynced would pass here too.
TEST_CASE("state store: kill -9 while committing, reopen: commits are atomic, acknowledged ones visible (process crash, not power loss)", "[state]") {
  const std::string dir = testing::MakeTempDir("state_crash") + "/db";
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  size_t acked_total = 0;
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // exec at once: the child must not run on a forked copy of this process's threads.
      close(fds[0]);
      setenv("SHARDQ_STATE_CRASH_DIR", dir.c_str(), 1);
      setenv("SHARDQ_STATE_CRASH_FD", std::to_string(fds[1]).c_str(), 1);
      execl("/proc/self/exe", "shardq_tests", "[.state_crash_child]", "-o", "/dev/null", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    const size_t target = 1 + rng() % 12;
    size_t acked = 0;
    char buf;
    while (acked < target && read(fds[0], &buf, 1) == 1) ++acked;
    if (round == 0 && acked > 0) {
      // While the child holds the DB, a second shardq is refused, naming the dir.
      auto busy = StateStore::Open(dir);
      REQUIRE_FALSE(busy.ok());
      CHECK(Contains(busy.status().message(), "state dir " + dir + " is in use by another shardq"));
    }
    // Somewhere inside the next commit (or between two).
    usleep(rng() % 20000);
    kill(pid, SIGKILL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    // Acks that arrived after we stopped counting are commits too.
    while (read(fds[0], &buf, 1) == 1) ++acked;
    close(fds[0]);
    INFO("round " << round << ", child status " << wstatus);
    REQUIRE(acked >= 1);  // the child did run and commit
    acked_total += acked;

    auto store = OpenOrDie(dir);
    auto units = store->ListUnits("job-c");
    REQUIRE(units.ok());
    // Every acknowledged commit is there; at most one unacknowledged one follows.
    CHECK(units->size() >= acked_total);
    CHECK(units->size() <= acked_total + 1);
    acked_total = units->size();
    for (size_t i = 0; i < units->size(); ++i) {
      const UnitRecord& u = (*units)[i];
      REQUIRE(u.index == static_cast<int64_t>(i));  // contiguous: no unit half there, none missing
      REQUIRE(u.tensors.size() == 4);
      for (int k = 0; k < 4; ++k) {
        auto b = store->GetBlob("job-c", u.tensors[k]);
        INFO(b.status().ToString());
        REQUIRE(b.ok());
        REQUIRE((b->bytes == MakeBlob(u.index, k).bytes));
      }
    }
    // Nothing of an uncommitted unit is visible.
    CHECK(store->GetBlob("job-c", MakeBlob(static_cast<int64_t>(units->size()), 0).name).status().code() ==
          Status::Code::kNotFound);
  }
}

// Durability, as far as a process can see it: before CommitUnit returns, every data
// file the commit created (table .sst, blob .blob) and the MANIFEST that makes them part
// of the DB have been fsynced. kill -9 cannot show this (the page cache survives it); a
// commit that only reached the page cache fails here.
TEST_CASE("state store: a commit is fsynced (new table and blob files, MANIFEST) before CommitUnit returns", "[state]") {
  namespace fs = std::filesystem;
  const std::string dir = testing::MakeTempDir("state_sync") + "/db";
  auto store = OpenOrDie(dir);
  auto data_files = [&] {
    std::set<std::string> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string ext = e.path().extension().string();
      if (ext == ".sst" || ext == ".blob") files.insert(e.path().string());
    }
    return files;
  };
  for (int64_t i = 0; i < 3; ++i) {
    INFO("unit " << i);
    const std::set<std::string> before = data_files();
    {
      std::lock_guard<std::mutex> lock(sync_spy::mu);
      sync_spy::synced.clear();
      sync_spy::listening = true;
    }
    const Status st = store->CommitUnit("job-s", MakeUnit(i, 4), MakeBlobs(i, 4));
    std::set<std::string> synced;
    {
      std::lock_guard<std::mutex> lock(sync_spy::mu);
      sync_spy::listening = false;
      synced.insert(sync_spy::synced.begin(), sync_spy::synced.end());
    }
    REQUIRE(st.ok());
    size_t created = 0;
    for (const std::string& f : data_files()) {
      if (before.count(f)) continue;
      ++created;
      INFO("created by the commit: " << f);
      CHECK(synced.count(f) == 1);
    }
    CHECK(created >= 2);  // the unit's record (.sst) and its tensors (.blob, >= 64 KiB each)
    bool manifest = false;
    for (const std::string& p : synced) manifest |= p.rfind(dir + "/MANIFEST-", 0) == 0;
    CHECK(manifest);
  }
  fs::remove_all(fs::path(dir).parent_path());
}

}  // namespace shardq
