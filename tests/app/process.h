#pragma once
// Real processes for end-to-end tests: start `orderly sim` / `orderly run` in the background,
// run a CLI command and capture its output, pick free loopback ports, poll with deadlines.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/paths.h"
#include "support/ports.h"

extern char** environ;

namespace orderly::testing {

inline std::filesystem::path make_temp_dir(const std::string& tag) {
  auto dir = std::filesystem::temp_directory_path() /
             ("orderly-" + tag + "-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 100 ms until it is true or `seconds` have passed.
inline bool eventually(const std::function<bool()>& done, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// A background process with stdout+stderr in `log`. SIGTERM on destruction.
class Process {
 public:
  Process(std::vector<std::string> args, std::filesystem::path log) : log_(std::move(log)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() { stop(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool running() {
    if (pid_ <= 0 || exited_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  // SIGTERM, then waits (SIGKILL after 20 s). Returns the exit code.
  int stop() {
    if (pid_ <= 0) return -1;
    if (running()) {
      ::kill(pid_, SIGTERM);
      if (!eventually([&] { return !running(); }, 20)) {
        ::kill(pid_, SIGKILL);
        eventually([&] { return !running(); }, 5);
      }
    }
    return exit_code_;
  }
  // kill -9: no destructor, no lease release, no clean close (a crashed or killed owner).
  void kill_hard() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      eventually([&] { return !running(); }, 10);
    }
  }
  // SIGSTOP / SIGCONT: a daemon frozen and resumed, as a stalled host or a debugger would.
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }
  std::string log() const { return read_file(log_); }
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::filesystem::path log_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command to completion (through /bin/sh; arguments must not need quoting).
inline RunResult run(const std::string& command) {
  static int counter = 0;
  auto err_file = std::filesystem::temp_directory_path() /
                  ("orderly-test-stderr-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  std::string full = command + " 2>" + err_file.string();
  RunResult r;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_file);
  std::filesystem::remove(err_file);
  return r;
}

}  // namespace orderly::testing
