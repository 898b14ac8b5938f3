#include <memory>

#include "coordinator/cli/cli_commands.h"
#include "coordinator/cli/cli_option_checks.h"
#include "coordinator/service/serve.h"

namespace shardq {

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the job service (Thrift + HTTP); under mpirun rank 0 serves and the other ranks are "
               "persistent workers. Token from SHARDQ_TOKEN or --token-file");
  cmd->add_option("--listen", o->listen, "Thrift HOST:PORT (framed transport, binary protocol)")
      ->capture_default_str();
  cmd->add_option("--http", o->http, "HTTP HOST:PORT for /healthz, /readyz, /metrics, /jobs/ID/report.html")
      ->capture_default_str();
  cmd->add_option("--state", o->state_dir, "state directory (queue, job checkpoints, specs)")->capture_default_str();
  cmd->add_option("--roots", o->roots, "directories jobs may read and write (default: the working directory)")
      ->delimiter(',');
  cmd->add_option("--token-file", o->token_file, "file whose first line is the token (else SHARDQ_TOKEN)");
  CLI::Option* threads = cmd->add_option("--threads", o->threads, "threads per worker (default: cores / workers)");
  cmd->callback([o, exit_code, threads] {
    const Status st = CheckThreads(threads, o->threads);
    if (!st.ok()) {
      std::fprintf(stderr, "shardq serve: %s\n", st.message().c_str());
      *exit_code = 1;
      return;
    }
    *exit_code = RunServeCommand(*o);
  });
}

}  // namespace shardq
