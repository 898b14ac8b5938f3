// Messages between rank 0 and the workers: round trips, and damage in flight
// (truncation, a flipped bit) is an error naming the sender, never a crash.
#include <catch2/catch.hpp>

#include "common/crc32c.h"
#include "coordinator/job_messages.h"

using namespace shardq;

TEST_CASE("job assignment and worker messages round-trip and damage is detected", "[messages]") {
  JobAssignment a;
  a.job_id = "job-1";
  a.model_path = "/m";
  a.preset = "Q4_K_M";
  a.tensor_types = {"attn_v=Q8_0"};
  a.use_importance = true;
  a.calib_text = "/t.txt";
  a.calib_samples = 8;
  a.calib_seq_len = 64;
  a.ranges = {{1, 0, 3}, {2, 3, 8}};
  a.todo = {2, 5, 7};
  a.threads = 3;
  auto back = DecodeAssignment(EncodeAssignment(a));
  REQUIRE(back.ok());
  CHECK(back->job_id == "job-1");
  CHECK(back->tensor_types == a.tensor_types);
  CHECK(back->ranges.size() == 2);
  CHECK(back->ranges[1].rank == 2);
  CHECK(back->ranges[1].end == 8);
  CHECK(back->todo == a.todo);
  CHECK(back->calib_seq_len == 64);
  auto opts = PlanOptionsOf(*back);
  REQUIRE(opts.ok());
  CHECK(opts->has_imatrix);
  CHECK(opts->overrides.size() == 1);
  std::vector<uint8_t> cut = EncodeAssignment(a);
  cut.resize(5);
  CHECK_FALSE(DecodeAssignment(cut).ok());

  TensorBlob b;
  b.name = "blk.0.attn_q.weight";
  b.type = GgmlType::F32;
  b.shape = {2, 2};
  b.bytes.assign(16, 0);
  b.bytes[4] = 0x80;
  b.crc32c = Crc32c(b.bytes.data(), b.bytes.size());
  WorkerMessage m;
  m.unit = 4;
  m.seconds = 0.25;
  m.blobs = {b, b};
  const std::vector<uint8_t> wire = EncodeWorkerMessage(m);
  auto got = DecodeWorkerMessage(wire, 3);
  REQUIRE(got.ok());
  CHECK(got->unit == 4);
  CHECK(got->blobs.size() == 2);
  CHECK(got->blobs[1].bytes == b.bytes);

  for (size_t cut_at : {size_t(0), size_t(5), wire.size() / 2, wire.size() - 1}) {
    std::vector<uint8_t> t(wire.begin(), wire.begin() + cut_at);
    auto r = DecodeWorkerMessage(t, 3);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("rank 3"));
  }
  std::vector<uint8_t> flipped = wire;
  flipped[wire.size() - 10] ^= 0x04;  // inside the second blob's record
  auto r = DecodeWorkerMessage(flipped, 3);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kCorruption);

  WorkerMessage done;
  done.kind = WorkerMessage::kDone;
  done.error = "rank 2: disk full";
  auto d = DecodeWorkerMessage(EncodeWorkerMessage(done), 2);
  REQUIRE(d.ok());
  CHECK(d->kind == WorkerMessage::kDone);
  CHECK(d->error == "rank 2: disk full");
}
