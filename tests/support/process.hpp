// A real child process (the iotgw binary), its output captured to a file the test can search.
// When one of ours (iotgw, iotgw-hub, iotgw-bench) ends, its log is also kept in kLogDir, where
// the last test of a run looks for secrets in every log (tests/logs/no_secrets_in_logs.py);
// not the output of `iotgw-hub token` and `iotgw-hub registry`, whose product is a secret.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace iotgw::test {

class Process {
 public:
  // Starts program with args; stdout and stderr both go to log_file.
  Process(const std::filesystem::path& program, const std::vector<std::string>& args,
          std::filesystem::path log_file);
  ~Process();  // kills the child if it still runs
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void signal(int signo) const;
  pid_t pid() const { return pid_; }
  // The exit code, or nullopt if it has not exited in time (or died of a signal: -signo).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

  std::string output() const;
  // Waits until the output holds a line matching the regex (counting from `after` matches);
  // returns the match's first group (or whole match), or nullopt on timeout.
  std::optional<std::string> wait_for(const std::string& regex,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                      std::size_t nth = 1) const;
  std::size_t count(const std::string& regex) const;

 private:
  void keep_log() const;

  std::filesystem::path program_;
  bool keep_log_ = false;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_file_;
};

// Runs a command to the end; returns exit code and output (stdout and stderr).
struct RunResult {
  int code;
  std::string output;
};
RunResult run(const std::filesystem::path& program, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace iotgw::test
