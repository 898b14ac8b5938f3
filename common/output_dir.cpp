#include "common/output_dir.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace shardq {

Status PrepareOutputDirectory(const std::string& output_path) {
  namespace fs = std::filesystem;
  if (output_path.empty()) return Status::InvalidArgument("no output path given");
  std::error_code ec;
  if (fs::is_directory(output_path, ec))
    return Status::InvalidArgument(output_path + ": the output path is a directory; give a file name");
  fs::path dir = fs::path(output_path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError(output_path + ": cannot create the output directory " + dir.string() + ": " + ec.message());
  } else if (!fs::is_directory(dir, ec)) {
    return Status::InvalidArgument(output_path + ": " + dir.string() + " is not a directory");
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return Status::IOError(output_path + ": cannot write in the output directory " + dir.string() + ": " +
                           std::strerror(errno));
  return Status::OK();
}

}  // namespace shardq
