// The service's client commands: submit, estimate, status, list, cancel,
// resume, wait, logs and report, each one call (or a polling loop) over Thrift.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "common/job_spec.h"
#include "coordinator/cli/cli_commands.h"
#include "coordinator/job/progress_bar.h"
#include "coordinator/service/serve.h"
#include "coordinator/service/service_client.h"
#include "coordinator/service/spec_convert.h"

namespace shardq {

namespace {

struct ClientFlags {
  std::string server;
  std::string token_file;
};

void AddClientFlags(CLI::App* cmd, ClientFlags* f) {
  const char* env = std::getenv("SHARDQ_SERVER");
  f->server = env ? env : "127.0.0.1:9190";
  cmd->add_option("--server", f->server, "the service's Thrift HOST:PORT (default SHARDQ_SERVER or 127.0.0.1:9190)");
  cmd->add_option("--token-file", f->token_file, "file whose first line is the token (else SHARDQ_TOKEN)");
}

int Fail(const char* command, const Status& st) {
  std::fprintf(stderr, "shardq %s: %s\n", command, st.message().c_str());
  return 1;
}

Result<std::unique_ptr<ServiceClient>> Open(const ClientFlags& f, int timeout_ms = 70000) {
  std::string error;
  const std::string token = ReadServiceToken(f.token_file, &error);
  if (!error.empty()) return Status::InvalidArgument(error);
  // wait() may hold a call for up to 60 s: the receive timeout must be longer.
  return ServiceClient::Connect(f.server, token, timeout_ms);
}

const char* StateName(rpc::JobState::type s) {
  switch (s) {
    case rpc::JobState::QUEUED: return "queued";
    case rpc::JobState::RUNNING: return "running";
    case rpc::JobState::DONE: return "done";
    case rpc::JobState::FAILED: return "failed";
    case rpc::JobState::CANCELLED: return "cancelled";
  }
  return "?";
}

bool IsFinal(rpc::JobState::type s) {
  return s == rpc::JobState::DONE || s == rpc::JobState::FAILED || s == rpc::JobState::CANCELLED;
}

void PrintStatus(const rpc::JobStatus& s) {
  std::printf("%s %s (%s) units %lld/%lld", s.id.c_str(), StateName(s.state), s.phase.c_str(),
              (long long)s.units_done, (long long)s.units_total);
  if (s.queue_position >= 0) std::printf(" queue position %lld", (long long)s.queue_position);
  std::printf("\n");
  for (const rpc::RankProgress& r : s.ranks)
    std::printf("  rank %d: %lld units, %.2f s busy\n", r.rank, (long long)r.units_done, r.busy_seconds);
  if (s.state == rpc::JobState::DONE)
    std::printf("output: %s (%lld bytes, sha256 %s)\n", s.output_path.c_str(), (long long)s.bytes_out, s.sha256.c_str());
  if (!s.error.empty()) std::printf("error: %s\n", s.error.c_str());
}

// The job spec file as the struct, its relative paths resolved against this
// directory (the server has its own working directory).
Result<rpc::JobSpec> LoadSpecForService(const std::string& path) {
  SHARDQ_ASSIGN_OR_RETURN(JobSpec spec, LoadJobSpec(path));
  auto absolute = [](std::string& p) {
    if (!p.empty()) p = std::filesystem::absolute(p).lexically_normal().string();
  };
  absolute(spec.model);
  absolute(spec.output_path);
  if (spec.calibration) absolute(spec.calibration->text);
  if (spec.eval) absolute(spec.eval->text);
  return JobSpecToThrift(spec);
}

// Follows a job to its end: a progress bar of units across ranks on a
// terminal, else one line per event. Returns the final status.
Result<rpc::JobStatus> Follow(ServiceClient& c, const std::string& id, bool print_events) {
  ProgressBar bar(ProgressBar::StderrIsTerminal());
  int64_t since = 0;
  rpc::JobStatus s;
  for (;;) {
    std::vector<rpc::Event> events;
    SHARDQ_RETURN_IF_ERROR(c.Call([&](rpc::ShardQClient& rpc, const std::string& token) {
      rpc.events(events, token, id, since);
    }));
    for (const rpc::Event& e : events) {
      since = e.seq;
      if (print_events && !ProgressBar::StderrIsTerminal())
        std::fprintf(stderr, "[%lld/%lld] %s\n", (long long)e.units_done, (long long)e.units_total, e.message.c_str());
    }
    SHARDQ_RETURN_IF_ERROR(c.Call([&](rpc::ShardQClient& rpc, const std::string& token) {
      rpc.wait(s, token, id, 500);
    }));
    std::string ranks;
    for (const rpc::RankProgress& r : s.ranks)
      ranks += (ranks.empty() ? "" : " ") + std::string("r") + std::to_string(r.rank) + ":" + std::to_string(r.units_done);
    bar.Update(s.units_done, s.units_total > 0 ? s.units_total : 1, s.phase + (ranks.empty() ? "" : " " + ranks));
    if (IsFinal(s.state)) break;
  }
  bar.Finish();
  return s;
}

int FinalExit(const rpc::JobStatus& s) {
  PrintStatus(s);
  return s.state == rpc::JobState::DONE ? 0 : 1;
}

}  // namespace

void AddServiceClientCommands(CLI::App& app, int* exit_code) {
  {
    struct Opts {
      ClientFlags f;
      std::string spec;
      bool wait = false;
      std::string key;
      int priority = 0;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* cmd = app.add_subcommand("submit", "Submit a job spec to the service (relative paths resolve here)");
    cmd->add_option("job", o->spec, "job spec (YAML or JSON)")->required();
    cmd->add_flag("--wait", o->wait, "follow the job to its end; exit 0 only if it is done");
    cmd->add_option("--idempotency-key", o->key, "the same key returns the same job instead of a new one");
    cmd->add_option("--priority", o->priority, "higher runs first (default 0)");
    AddClientFlags(cmd, &o->f);
    cmd->callback([o, exit_code] {
      Result<rpc::JobSpec> spec = LoadSpecForService(o->spec);
      if (!spec.ok()) return void(*exit_code = Fail("submit", spec.status()));
      Result<std::unique_ptr<ServiceClient>> c = Open(o->f);
      if (!c.ok()) return void(*exit_code = Fail("submit", c.status()));
      std::string id;
      Status st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) {
        rpc.submit(id, token, *spec, o->key, o->priority);
      });
      if (!st.ok()) return void(*exit_code = Fail("submit", st));
      std::printf("%s\n", id.c_str());
      std::fflush(stdout);
      if (!o->wait) return void(*exit_code = 0);
      Result<rpc::JobStatus> s = Follow(**c, id, /*print_events=*/true);
      *exit_code = s.ok() ? FinalExit(*s) : Fail("submit", s.status());
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientFlags, std::string>>();
    CLI::App* cmd = app.add_subcommand("estimate", "Ask the service what a job spec will take");
    cmd->add_option("job", o->second, "job spec (YAML or JSON)")->required();
    AddClientFlags(cmd, &o->first);
    cmd->callback([o, exit_code] {
      Result<rpc::JobSpec> spec = LoadSpecForService(o->second);
      if (!spec.ok()) return void(*exit_code = Fail("estimate", spec.status()));
      Result<std::unique_ptr<ServiceClient>> c = Open(o->first);
      if (!c.ok()) return void(*exit_code = Fail("estimate", c.status()));
      rpc::Estimate e;
      Status st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) { rpc.estimate(e, token, *spec); });
      if (!st.ok()) return void(*exit_code = Fail("estimate", st));
      std::printf("units %lld, bytes in %lld, predicted bytes out %lld, predicted %.1f s\n", (long long)e.units,
                  (long long)e.bytes_in, (long long)e.predicted_bytes_out, e.predicted_seconds);
      *exit_code = 0;
    });
  }
  // status / cancel / resume: one id, one call, the status printed.
  using StatusCall = void (*)(rpc::ShardQClient&, rpc::JobStatus&, const std::string&, const std::string&);
  const std::vector<std::tuple<const char*, const char*, StatusCall>> simple = {
      {"status", "Show a job's state, progress per rank and output",
       [](rpc::ShardQClient& r, rpc::JobStatus& s, const std::string& t, const std::string& id) { r.status(s, t, id); }},
      {"cancel", "Cancel a job (a running one stops after the units in hand; resumable)",
       [](rpc::ShardQClient& r, rpc::JobStatus& s, const std::string& t, const std::string& id) { r.cancel(s, t, id); }},
      {"resume", "Queue a cancelled or failed job again (committed units are reused)",
       [](rpc::ShardQClient& r, rpc::JobStatus& s, const std::string& t, const std::string& id) { r.resume(s, t, id); }},
  };
  for (const auto& [name, help, call] : simple) {
    auto o = std::make_shared<std::pair<ClientFlags, std::string>>();
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->add_option("id", o->second, "job id")->required();
    AddClientFlags(cmd, &o->first);
    cmd->callback([o, exit_code, name = std::string(name), call = call] {
      Result<std::unique_ptr<ServiceClient>> c = Open(o->first);
      if (!c.ok()) return void(*exit_code = Fail(name.c_str(), c.status()));
      rpc::JobStatus s;
      Status st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) { call(rpc, s, token, o->second); });
      if (!st.ok()) return void(*exit_code = Fail(name.c_str(), st));
      PrintStatus(s);
      *exit_code = 0;
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientFlags, std::string>>();
    CLI::App* cmd = app.add_subcommand("wait", "Wait for a job to finish; exit 0 only if it is done");
    cmd->add_option("id", o->second, "job id")->required();
    AddClientFlags(cmd, &o->first);
    cmd->callback([o, exit_code] {
      Result<std::unique_ptr<ServiceClient>> c = Open(o->first);
      if (!c.ok()) return void(*exit_code = Fail("wait", c.status()));
      Result<rpc::JobStatus> s = Follow(**c, o->second, /*print_events=*/false);
      *exit_code = s.ok() ? FinalExit(*s) : Fail("wait", s.status());
    });
  }
  {
    struct Opts {
      ClientFlags f;
      std::string state;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* cmd = app.add_subcommand("list", "List the service's jobs");
    cmd->add_option("--state", o->state, "only jobs in this state (queued, running, done, failed, cancelled)");
    AddClientFlags(cmd, &o->f);
    cmd->callback([o, exit_code] {
      rpc::ListFilter filter;
      if (!o->state.empty()) {
        const std::map<std::string, rpc::JobState::type> states = {
            {"queued", rpc::JobState::QUEUED}, {"running", rpc::JobState::RUNNING}, {"done", rpc::JobState::DONE},
            {"failed", rpc::JobState::FAILED}, {"cancelled", rpc::JobState::CANCELLED}};
        auto it = states.find(o->state);
        if (it == states.end())
          return void(*exit_code = Fail("list", Status::InvalidArgument("--state " + o->state + ": unknown state")));
        filter.__set_state(it->second);
      }
      Result<std::unique_ptr<ServiceClient>> c = Open(o->f);
      if (!c.ok()) return void(*exit_code = Fail("list", c.status()));
      rpc::Page page;
      page.__set_limit(1000);
      rpc::JobList list;
      Status st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) { rpc.listJobs(list, token, filter, page); });
      if (!st.ok()) return void(*exit_code = Fail("list", st));
      for (const rpc::JobStatus& s : list.jobs)
        std::printf("%s\t%s\t%lld/%lld\t%s\n", s.id.c_str(), StateName(s.state), (long long)s.units_done,
                    (long long)s.units_total, s.output_path.c_str());
      *exit_code = 0;
    });
  }
  {
    struct Opts {
      ClientFlags f;
      std::string id;
      bool follow = false;
    };
    auto o = std::make_shared<Opts>();
    CLI::App* cmd = app.add_subcommand("logs", "Print a job's events (progress and log lines)");
    cmd->add_option("id", o->id, "job id")->required();
    cmd->add_flag("--follow,-f", o->follow, "keep printing until the job ends");
    AddClientFlags(cmd, &o->f);
    cmd->callback([o, exit_code] {
      Result<std::unique_ptr<ServiceClient>> c = Open(o->f);
      if (!c.ok()) return void(*exit_code = Fail("logs", c.status()));
      int64_t since = 0;
      for (;;) {
        std::vector<rpc::Event> events;
        Status st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) { rpc.events(events, token, o->id, since); });
        if (!st.ok()) return void(*exit_code = Fail("logs", st));
        for (const rpc::Event& e : events) {
          since = e.seq;
          std::printf("%lld %s [%lld/%lld] %s\n", (long long)e.seq, e.kind.c_str(), (long long)e.units_done,
                      (long long)e.units_total, e.message.c_str());
        }
        std::fflush(stdout);
        if (!o->follow) break;
        rpc::JobStatus s;
        st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) { rpc.wait(s, token, o->id, 500); });
        if (!st.ok()) return void(*exit_code = Fail("logs", st));
        if (IsFinal(s.state) && events.empty()) break;
      }
      *exit_code = 0;
    });
  }
  {
    auto o = std::make_shared<std::pair<ClientFlags, std::string>>();
    CLI::App* cmd = app.add_subcommand("report", "Print a job's report (JSON)");
    cmd->add_option("id", o->second, "job id")->required();
    AddClientFlags(cmd, &o->first);
    cmd->callback([o, exit_code] {
      Result<std::unique_ptr<ServiceClient>> c = Open(o->first);
      if (!c.ok()) return void(*exit_code = Fail("report", c.status()));
      std::string report;
      Status st = (*c)->Call([&](rpc::ShardQClient& rpc, const std::string& token) { rpc.report(report, token, o->second); });
      if (!st.ok()) return void(*exit_code = Fail("report", st));
      std::printf("%s\n", report.c_str());
      *exit_code = 0;
    });
  }
}

}  // namespace shardq
