#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <regex>
#include <stdexcept>
#include <thread>

#include "test_env.hpp"

extern char** environ;

namespace iotgw::test {

Process::Process(const std::filesystem::path& program, const std::vector<std::string>& args,
                 std::filesystem::path log_file)
    : program_(program),
      keep_log_(program.filename().string().starts_with("iotgw") &&
                (args.empty() || (args[0] != "token" && args[0] != "registry"))),
      log_file_(std::move(log_file)) {
  std::vector<std::string> argv_s{program.string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  const int rc = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + program.string());
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(5));
  }
  keep_log();
}

void Process::keep_log() const {
  if (!keep_log_) return;
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string owner =
      test != nullptr ? std::string(test->test_suite_name()) + "." + test->name() : "no-test";
  std::error_code ec;
  std::filesystem::create_directories(kLogDir, ec);
  std::filesystem::copy_file(
      log_file_,
      kLogDir / (owner + "." + program_.filename().string() + "." + std::to_string(pid_) + ".log"),
      std::filesystem::copy_options::overwrite_existing, ec);
}

void Process::signal(int signo) const {
  ::kill(pid_, signo);
}

bool Process::running() {
  if (exit_code_) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return false;
  }
  return r == 0;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

std::string Process::output() const {
  return read_file(log_file_);
}

std::size_t Process::count(const std::string& regex) const {
  const std::regex re(regex);
  const std::string text = output();
  return static_cast<std::size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

std::optional<std::string> Process::wait_for(const std::string& regex,
                                             std::chrono::milliseconds timeout,
                                             std::size_t nth) const {
  const std::regex re(regex);
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string text = output();
    std::size_t seen = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it) {
      if (++seen == nth) return it->size() > 1 ? (*it)[1].str() : (*it)[0].str();
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

RunResult run(const std::filesystem::path& program, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout) {
  TempDir dir;
  Process p(program, args, dir / "out.log");
  auto code = p.wait_exit(timeout);
  return {code.value_or(-1000), p.output()};
}

}  // namespace iotgw::test
