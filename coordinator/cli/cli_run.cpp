#include <memory>

#include "coordinator/cli/cli_commands.h"
#include "coordinator/job/job_runner.h"

namespace shardq {

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a compression job (alone, or under mpirun: rank 0 coordinates, the others work); "
             "rerunning a failed job resumes it from the state directory");
  cmd->add_option("job", o->spec_path, "job spec (YAML or JSON)")->required();
  cmd->add_option("--out,-o", o->output_override, "output path (overrides the spec's output.path)");
  cmd->add_option("--state", o->state_override, "state directory (overrides the spec's state_dir)");
  cmd->add_option("--threads", o->threads, "threads per worker (default: cores / workers on this node)");
  cmd->add_flag("--quiet,-q", o->quiet, "no progress, no summary");
  cmd->add_flag("--no-eval", o->skip_eval, "skip the spec's eval stage");
  cmd->callback([o, exit_code] { *exit_code = RunJobCommand(*o); });
}

}  // namespace shardq
