// The subcommands of the `shardq` binary. Each registers its flags on the CLI11
// app and returns the process exit code when run: errors are one line on
// stderr ("shardq quantize: <file>: <reason>") and a non-zero exit.
#pragma once

#include <CLI/CLI.hpp>

namespace shardq {

void AddQuantizeCommand(CLI::App& app, int* exit_code);
void AddInspectCommand(CLI::App& app, int* exit_code);
void AddRunCommand(CLI::App& app, int* exit_code);
void AddCalibrateCommand(CLI::App& app, int* exit_code);
void AddGenerateCommand(CLI::App& app, int* exit_code);
void AddEvalCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
// submit, estimate, status, list, cancel, resume, wait, logs, report
void AddServiceClientCommands(CLI::App& app, int* exit_code);

}  // namespace shardq
