// Which files a submitted job may touch: its model, calibration and eval text
// must resolve (symlinks followed) inside one of the service's --roots, and so
// must the directory its output goes into. A path with a ".." component or a
// relative path is refused outright: clients resolve relative paths first.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace shardq {

class PathPolicy {
 public:
  // Each root must exist; it is kept in canonical form.
  static Result<PathPolicy> Make(const std::vector<std::string>& roots);

  // An existing file to read. Returns its canonical path, or InvalidArgument
  // naming `field` and why (outside the roots, missing, "..", relative).
  Result<std::string> Input(const std::string& path, const std::string& field) const;
  // A file to write: its deepest existing ancestor, canonical, must be inside a
  // root, and the file itself must not be a symlink. Returns the canonical path.
  Result<std::string> Output(const std::string& path, const std::string& field) const;

  const std::vector<std::string>& roots() const { return roots_; }

 private:
  Status CheckSyntax(const std::string& path, const std::string& field) const;
  bool Inside(const std::string& canonical) const;
  std::vector<std::string> roots_;
};

}  // namespace shardq
