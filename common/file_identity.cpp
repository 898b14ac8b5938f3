#include "common/file_identity.h"

#include <sys/stat.h>

namespace shardq {

Status CheckOutputsAreNotInputs(const std::vector<LabelledPath>& outputs, const std::vector<LabelledPath>& inputs) {
  std::vector<struct stat> in_stats(inputs.size());
  std::vector<bool> in_exists(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) in_exists[i] = stat(inputs[i].path.c_str(), &in_stats[i]) == 0;
  for (const LabelledPath& out : outputs) {
    struct stat o {};
    if (stat(out.path.c_str(), &o) != 0) continue;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (in_exists[i] && in_stats[i].st_dev == o.st_dev && in_stats[i].st_ino == o.st_ino)
        return Status::InvalidArgument(out.path + ": the " + out.role + " is the same file as the " + inputs[i].role +
                                       " " + inputs[i].path + "; writing it would destroy an input: choose another path");
    }
  }
  return Status::OK();
}

}  // namespace shardq
