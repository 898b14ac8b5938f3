// Checks of numeric command-line options for eval, generate and calibrate, done
// in the command's callback so a bad value is one line on stderr that names the
// option ("--top-p 2: must be in (0, 1]"), like every other error of the command.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "common/thread_pool.h"  // kMaxThreads

namespace shardq {

// --threads N when given: 1..kMaxThreads (not given: every core).
inline Status CheckThreads(const CLI::Option* opt, int threads) {
  if (opt->count() == 0) return Status::OK();
  if (threads < 1 || threads > kMaxThreads)
    return Status::InvalidArgument("--threads " + std::to_string(threads) + ": must be 1.." +
                                   std::to_string(kMaxThreads) + " (leave it out to use every core)");
  return Status::OK();
}

// An integer option's value must be at least `min`.
inline Status CheckAtLeast(const std::string& name, int64_t value, int64_t min) {
  if (value < min)
    return Status::InvalidArgument(name + " " + std::to_string(value) + ": must be at least " + std::to_string(min));
  return Status::OK();
}

}  // namespace shardq
