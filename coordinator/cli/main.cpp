// shardq command-line entry point: one binary for every role (DESIGN.md).
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>

#include "coordinator/cli/cli_commands.h"

namespace {

// Every unit moves through buffers of tens of MB (packed tensors in MPI
// messages and state-store batches, rows of F32 weights). Above glibc's mmap
// threshold each one is a fresh mapping: page faults and zeroing per unit, then
// munmap. Served from the heap and not trimmed back, they reuse warm pages.
// Measured on bench_scaling's rtn job (2 GB model): rank 0's system time
// 1.66 -> 1.36 s, a worker's 0.82 -> 0.36 s, the job 4.6 -> 3.8 s. Peak RSS
// is unchanged (it is the high-water mark either way). 32 MiB is the largest
// threshold glibc accepts on 64-bit.
void KeepLargeBuffersWarm() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int RunCommandLine(int argc, char** argv) {
  KeepLargeBuffersWarm();
  CLI::App app{"shardq: distributed compression of large language models"};
  app.require_subcommand(1);
  int exit_code = 0;
  shardq::AddQuantizeCommand(app, &exit_code);
  shardq::AddInspectCommand(app, &exit_code);
  shardq::AddRunCommand(app, &exit_code);
  shardq::AddCalibrateCommand(app, &exit_code);
  shardq::AddGenerateCommand(app, &exit_code);
  shardq::AddEvalCommand(app, &exit_code);
  shardq::AddServeCommand(app, &exit_code);
  shardq::AddServiceClientCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

}  // namespace

// Every command reports errors as Status values; an exception reaching here is
// a bug or resource exhaustion (bad_alloc, a thread that could not start). It
// still ends as one line on stderr and exit 1, never std::terminate's abort:
// the commands' RAII guards (temp files, locks) have run by the time it lands.
int main(int argc, char** argv) {
  try {
    return RunCommandLine(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "shardq: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shardq: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "shardq: internal error: unknown exception\n");
  }
  return 1;
}

