#include "coordinator/job/eval_progress.h"

#include <cinttypes>
#include <utility>

namespace shardq {

EvalProgress::EvalProgress(bool enabled, bool terminal, std::string prefix, std::FILE* out)
    : enabled_(enabled), terminal_(terminal), prefix_(std::move(prefix)), out_(out), bar_(enabled && terminal, out) {}

void EvalProgress::Start(int64_t total_chunks, int64_t ctx) {
  total_ = total_chunks;
  step_ = total_ > 10 ? (total_ + 9) / 10 : 1;
  if (!enabled_ || terminal_) return;
  std::fprintf(out_, "%s: evaluating %" PRId64 " chunks of %" PRId64 " tokens\n", prefix_.c_str(), total_, ctx);
  std::fflush(out_);
}

void EvalProgress::Update(int64_t done, double ppl) {
  if (!enabled_) return;
  char label[64];
  std::snprintf(label, sizeof label, "chunks, PPL %.4f", ppl);
  if (terminal_) {
    bar_.Update(static_cast<size_t>(done), static_cast<size_t>(total_), prefix_ + " " + label);
    return;
  }
  if (done % step_ != 0 && done != total_) return;
  std::fprintf(out_, "%s: chunk %" PRId64 "/%" PRId64 ", PPL %.4f\n", prefix_.c_str(), done, total_, ppl);
  std::fflush(out_);
}

void EvalProgress::Finish() { bar_.Finish(); }

}  // namespace shardq
