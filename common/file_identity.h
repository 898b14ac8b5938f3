// Whether a path a command is about to write names a file it reads. Comparing
// path strings misses symlinks, hard links, "./x" vs "x" and bind mounts; the
// (device, inode) pair of the file a path resolves to does not. A job that
// renamed its output over its own model would report success and leave the
// model destroyed, so every output, temp file and sidecar is checked against
// every input before any work.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

// InvalidArgument ("OUT: is the same file as the job's input IN (model)")
// when any existing path of `outputs` resolves (symlinks followed) to the same
// file as any path of `inputs`. Paths that do not exist are no conflict: an
// input exists, and a new file cannot be one.
struct LabelledPath {
  std::string path;
  std::string role;  // "model", "calibration text", "output", "temp file", ...
};
Status CheckOutputsAreNotInputs(const std::vector<LabelledPath>& outputs, const std::vector<LabelledPath>& inputs);

}  // namespace shardq
