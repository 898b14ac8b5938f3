// The job service's pure parts: the roots policy, the spec's wire form, the
// token check, the Prometheus text and the durable queue records.
// (The service end to end: tests/integration/service.sh.)
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "common/job_spec.h"
#include "coordinator/http/metrics_text.h"
#include "coordinator/service/path_policy.h"
#include "coordinator/service/spec_convert.h"
#include "coordinator/service/thrift_server.h"
#include "coordinator/store/queue_store.h"
#include "tests/unit/test_util.h"

namespace shardq {
namespace {

namespace fs = std::filesystem;

TEST_CASE("PathPolicy keeps inputs and outputs inside the roots", "[service]") {
  const std::string root = fs::canonical(testing::MakeTempDir("roots")).string();
  fs::create_directories(root + "/models");
  std::ofstream(root + "/models/m.gguf") << "x";
  fs::create_symlink("/etc", root + "/escape");
  fs::create_symlink("/etc/hostname", root + "/models/link.gguf");
  Result<PathPolicy> p = PathPolicy::Make({root});
  REQUIRE(p.ok());

  CHECK(*p->Input(root + "/models/m.gguf", "model") == root + "/models/m.gguf");
  const Status outside = p->Input("/etc/hostname", "model").status();
  CHECK(outside.message() == "model: '/etc/hostname' resolves to /etc/hostname, outside the server's roots");
  CHECK(p->Input(root + "/models/../models/m.gguf", "model").status().message().find("'..' component") !=
        std::string::npos);
  CHECK(p->Input("models/m.gguf", "model").status().message() == "model: 'models/m.gguf' is not an absolute path");
  CHECK(p->Input(root + "/models/link.gguf", "model").status().message().find("outside the server's roots") !=
        std::string::npos);
  CHECK(p->Input(root + "/missing", "calibration.text").status().message().find("calibration.text: '") == 0);

  // A new file in directories still to be made is fine; through a symlink out, not.
  CHECK(*p->Output(root + "/out/a/b.gguf", "output.path") == root + "/out/a/b.gguf");
  CHECK(p->Output(root + "/escape/x.gguf", "output.path").status().message() ==
        "output.path: '" + root + "/escape/x.gguf' resolves to /etc/x.gguf, outside the server's roots");
  CHECK(p->Output(root + "/models/link.gguf", "output.path").status().message().find("symbolic link") !=
        std::string::npos);
  CHECK(p->Output(root, "output.path").status().message().find("is a directory") != std::string::npos);
  // A root's sibling that shares its prefix is not inside it.
  fs::create_directories(root + "-other");
  std::ofstream(root + "-other/m") << "x";
  CHECK(!p->Input(root + "-other/m", "model").ok());
  CHECK(!PathPolicy::Make({root + "/nope"}).ok());
}

TEST_CASE("a spec crosses the wire and back to the same job", "[service]") {
  const std::string yaml = R"(
model: /m/model
output: { path: /o/out.gguf }
state_dir: /s
recipe:
  quantize: { preset: Q3_K_M, algorithm: gptq, tensor_types: ["attn_v=Q8_0"], output_tensor_type: Q6_K,
              gptq: { damp: 0.05, act_order: true, block_columns: 64, importance: false }, target_bpw: 4.25 }
calibration: { text: /c.txt, samples: 8, seq_len: 64 }
eval: { text: /e.txt, ctx: 96 }
)";
  Result<JobSpec> spec = ParseJobSpec(yaml, "job.yaml");
  REQUIRE(spec.ok());
  // Client side: YAML -> struct -> JSON as the server sees it.
  Result<JobSpec> wire = ParseJobSpec(ThriftSpecToJson(JobSpecToThrift(*spec)), "spec");
  REQUIRE(wire.ok());
  CHECK(wire->CanonicalJson() == spec->CanonicalJson());
  CHECK(wire->model == "/m/model");
  CHECK(wire->output_path == "/o/out.gguf");
  CHECK(wire->eval->text == "/e.txt");
  // Server side: what the runner reads back.
  Result<JobSpec> runner = ParseJobSpec(JobSpecToJson(*wire), "spec");
  REQUIRE(runner.ok());
  CHECK(runner->CanonicalJson() == spec->CanonicalJson());
  CHECK(runner->calibration->seq_len == 64);

  // A bad field keeps ParseJobSpec's message, split into field and reason.
  rpc::JobSpec bad = JobSpecToThrift(*spec);
  bad.recipe.quantize.gptq.__set_damp(2.0);
  Result<JobSpec> refused = ParseJobSpec(ThriftSpecToJson(bad), "spec");
  REQUIRE(!refused.ok());
  const SpecError e = SplitSpecError(refused.status().message(), "spec");
  CHECK(e.field == "recipe.quantize.gptq.damp");
  CHECK(e.reason == "must be in [0, 1], got 2.0");
}

TEST_CASE("tokens match only when equal", "[service]") {
  CHECK(TokensMatch("s3cret", "s3cret"));
  CHECK(!TokensMatch("s3cret", "s3creT"));
  CHECK(!TokensMatch("", "s3cret"));
  CHECK(!TokensMatch("s3cret\n", "s3cret"));
}

TEST_CASE("metrics text: cumulative histogram buckets and escaped labels", "[service]") {
  MetricsSnapshot s;
  for (double sec : {0.01, 0.2, 0.2, 3.0, 100.0}) s.metrics.ObserveUnit(1, sec);
  s.metrics.ObserveUnit(2, 0.5);
  s.metrics.last_error = "bad \"x\"\nline \\ two";
  s.metrics.last_error_job = "job-1";
  s.metrics.last_error_unix = 1700000000;
  s.jobs_by_state = {{"done", 3}, {"queued", 1}};
  s.queue_length = 1;
  const std::string text = RenderMetricsText(s);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  // Hand-counted: <=0.05: 1; <=0.25: 3; <=0.5: 4; <=5: 5; +Inf: 6.
  CHECK(has("shardq_unit_seconds_bucket{le=\"0.05\"} 1"));
  CHECK(has("shardq_unit_seconds_bucket{le=\"0.1\"} 1"));
  CHECK(has("shardq_unit_seconds_bucket{le=\"0.25\"} 3"));
  CHECK(has("shardq_unit_seconds_bucket{le=\"0.5\"} 4"));
  CHECK(has("shardq_unit_seconds_bucket{le=\"5\"} 5"));
  CHECK(has("shardq_unit_seconds_bucket{le=\"60\"} 5"));
  CHECK(has("shardq_unit_seconds_bucket{le=\"+Inf\"} 6"));
  CHECK(has("shardq_unit_seconds_count 6"));
  CHECK(has("shardq_units_done_total 6"));
  CHECK(has("shardq_rank_busy_seconds_total{rank=\"2\"} 0.5"));
  CHECK(has("shardq_jobs{state=\"done\"} 3"));
  CHECK(has("shardq_last_error_info{job=\"job-1\",message=\"bad \\\"x\\\"\\nline \\\\ two\"} 1"));
  CHECK(has("# TYPE shardq_unit_seconds histogram"));
}

TEST_CASE("the queue store keeps every job in submission order across reopen", "[service]") {
  const std::string dir = testing::MakeTempDir("queue") + "/q";
  {
    Result<std::unique_ptr<QueueStore>> q = QueueStore::Open(dir);
    REQUIRE(q.ok());
    for (int i : {3, 1, 2}) {
      QueuedJob j;
      j.id = "job-" + std::to_string(i);
      j.seq = i;
      j.priority = i == 2 ? 5 : 0;
      j.state = i == 1 ? QueuedState::kRunning : QueuedState::kQueued;
      j.spec_json = "{\"model\": \"m\"}";
      j.ranks[1] = {4, 1.5};
      REQUIRE((*q)->Put(j, true).ok());
    }
    // Another server on the same directory is refused, naming it.
    Result<std::unique_ptr<QueueStore>> second = QueueStore::Open(dir);
    REQUIRE(!second.ok());
    CHECK(second.status().message().find("queue store " + dir) == 0);
  }
  Result<std::unique_ptr<QueueStore>> q = QueueStore::Open(dir);
  REQUIRE(q.ok());
  Result<std::vector<QueuedJob>> jobs = (*q)->LoadAll();
  REQUIRE(jobs.ok());
  REQUIRE(jobs->size() == 3);
  CHECK((*jobs)[0].id == "job-1");
  CHECK((*jobs)[0].state == QueuedState::kRunning);
  CHECK((*jobs)[1].priority == 5);
  CHECK((*jobs)[2].ranks.at(1).busy_seconds == 1.5);
  CHECK(!DecodeQueuedJob("{\"id\": \"x\"}", "queue store d: job/x").ok());
  CHECK(DecodeQueuedJob("not json", "queue store d: job/x").status().message().find("queue store d: job/x: ") == 0);
}

}  // namespace
}  // namespace shardq
