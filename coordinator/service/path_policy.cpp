#include "coordinator/service/path_policy.h"

#include <filesystem>

namespace shardq {

namespace fs = std::filesystem;

Result<PathPolicy> PathPolicy::Make(const std::vector<std::string>& roots) {
  if (roots.empty()) return Status::InvalidArgument("--roots: at least one directory is needed");
  PathPolicy p;
  for (const std::string& r : roots) {
    std::error_code ec;
    const fs::path c = fs::canonical(r, ec);
    if (ec || !fs::is_directory(c, ec)) return Status::InvalidArgument("--roots: " + r + ": not an existing directory");
    p.roots_.push_back(c.string());
  }
  return p;
}

Status PathPolicy::CheckSyntax(const std::string& path, const std::string& field) const {
  if (path.empty()) return Status::InvalidArgument(field + ": empty path");
  if (path.find('\0') != std::string::npos) return Status::InvalidArgument(field + ": path has a 0 byte");
  const fs::path p(path);
  if (!p.is_absolute()) return Status::InvalidArgument(field + ": '" + path + "' is not an absolute path");
  for (const fs::path& part : p)
    if (part == "..") return Status::InvalidArgument(field + ": '" + path + "' has a '..' component");
  return Status::OK();
}

bool PathPolicy::Inside(const std::string& canonical) const {
  for (const std::string& root : roots_) {
    if (canonical == root) return true;
    const std::string prefix = root == "/" ? root : root + "/";
    if (canonical.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

Result<std::string> PathPolicy::Input(const std::string& path, const std::string& field) const {
  SHARDQ_RETURN_IF_ERROR(CheckSyntax(path, field));
  std::error_code ec;
  const fs::path c = fs::canonical(path, ec);
  if (ec) return Status::InvalidArgument(field + ": '" + path + "': " + ec.message());
  if (!Inside(c.string()))
    return Status::InvalidArgument(field + ": '" + path + "' resolves to " + c.string() +
                                   ", outside the server's roots");
  return c.string();
}

Result<std::string> PathPolicy::Output(const std::string& path, const std::string& field) const {
  SHARDQ_RETURN_IF_ERROR(CheckSyntax(path, field));
  std::error_code ec;
  const fs::path p(path);
  if (fs::is_symlink(fs::symlink_status(p, ec)))
    return Status::InvalidArgument(field + ": '" + path + "' is a symbolic link");
  if (fs::is_directory(p, ec)) return Status::InvalidArgument(field + ": '" + path + "' is a directory");
  // The deepest ancestor that exists decides where the file lands; the rest is
  // created by the job (plain names only, no "..": checked above).
  fs::path existing = p.parent_path();
  fs::path rest = p.filename();
  while (!existing.empty() && !fs::exists(existing, ec)) {
    rest = existing.filename() / rest;
    existing = existing.parent_path();
  }
  const fs::path c = fs::canonical(existing.empty() ? fs::path("/") : existing, ec);
  if (ec) return Status::InvalidArgument(field + ": '" + path + "': " + ec.message());
  const fs::path resolved = c / rest;
  if (!Inside(c.string()) || !Inside(resolved.string()))
    return Status::InvalidArgument(field + ": '" + path + "' resolves to " + resolved.string() +
                                   ", outside the server's roots");
  return resolved.string();
}

}  // namespace shardq
