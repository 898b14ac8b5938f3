// shardq command-line entry point: one binary for every role (DESIGN.md).
#include <CLI/CLI.hpp>

#include "coordinator/cli_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"shardq: distributed compression of large language models"};
  app.require_subcommand(1);
  int exit_code = 0;
  shardq::AddQuantizeCommand(app, &exit_code);
  shardq::AddInspectCommand(app, &exit_code);
  shardq::AddRunCommand(app, &exit_code);
  shardq::AddCalibrateCommand(app, &exit_code);
  shardq::AddGenerateCommand(app, &exit_code);
  shardq::AddEvalCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
