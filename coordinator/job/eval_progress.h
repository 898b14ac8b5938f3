// Progress of a perplexity evaluation (chunks done / total, running PPL) on
// stderr, for `shardq eval` and a job's eval stage: a bar redrawn in place when
// stderr is a terminal, otherwise a plain line about every tenth of the chunks
// (and after the last), so logs show it is alive without filling up.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "coordinator/job/progress_bar.h"

namespace shardq {

class EvalProgress {
 public:
  // enabled false: prints nothing (--quiet, --json). terminal: draw in place.
  EvalProgress(bool enabled, bool terminal, std::string prefix, std::FILE* out = stderr);
  // Call once before the first chunk.
  void Start(int64_t total_chunks, int64_t ctx);
  // After chunk `done` (1-based) with the running perplexity.
  void Update(int64_t done, double ppl);
  // Clears the bar (terminal); nothing otherwise.
  void Finish();

 private:
  bool enabled_, terminal_;
  std::string prefix_;
  std::FILE* out_;
  ProgressBar bar_;
  int64_t total_ = 0, step_ = 1;
};

}  // namespace shardq
