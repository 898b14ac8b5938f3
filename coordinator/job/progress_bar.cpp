#include "coordinator/job/progress_bar.h"

#include <unistd.h>

namespace shardq {

ProgressBar::ProgressBar(bool enabled, std::FILE* out) : enabled_(enabled), out_(out) {}

bool ProgressBar::StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

void ProgressBar::Update(size_t done, size_t total, const std::string& label) {
  if (!enabled_ || total == 0) return;
  const auto now = std::chrono::steady_clock::now();
  // Redraw at most 20 times a second, but always draw the last step.
  if (drawn_ && done < total && now - last_ < std::chrono::milliseconds(50)) return;
  last_ = now;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '.');
  std::string shown = label.size() > 40 ? label.substr(0, 37) + "..." : label;
  std::fprintf(out_, "\r[%s] %zu/%zu %-40s", bar.c_str(), done, total, shown.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(out_, "\r%*s\r", 90, "");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace shardq
