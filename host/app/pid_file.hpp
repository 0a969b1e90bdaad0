// --pid-file: where operators find this gateway's process id (`kill -HUP $(cat FILE)`), so that
// signalling one gateway does not signal every iotgw on the machine as `pidof` would.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace iotgw::app {

class PidFile {
 public:
  // Takes the path for this process; refuses (nullopt, error set) while the file names a live
  // iotgw other than this one. A file left by a process that is gone is taken over.
  static std::optional<PidFile> claim(const std::filesystem::path& path, std::string& error);

  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  ~PidFile();  // removes the file if it still names this process

  // Writes this process's id, atomically (readers never see a half-written file).
  bool write(std::string& error);

 private:
  explicit PidFile(std::filesystem::path path) : path_(std::move(path)) {}

  std::filesystem::path path_;
  bool written_ = false;
};

}  // namespace iotgw::app
