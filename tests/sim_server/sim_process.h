#pragma once
// Runs the real `orderly sim` binary on a free port and reads the port from its one stdout line.

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support/paths.h"

namespace orderly::sim::testing {

class SimProcess {
 public:
  // Starts `orderly sim --listen 127.0.0.1:0 <args>`; port() is 0 when it did not come up.
  // `env` ("NAME=value") is added to this process's environment for the child.
  explicit SimProcess(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv_s = {orderly::testing::orderly_bin(), "sim", "--listen", "127.0.0.1:0"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // The sim must not outlive a crashed test (it would hold ctest's output pipe open).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
    if (pid_ > 0) read_port();
  }

  ~SimProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }

  std::uint16_t port() const { return port_; }

  // False once the process has exited (or was killed by a signal); exit_status() then says how.
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    exit_status_ = status;
    return false;
  }
  // "exit 0", "signal 11", ...: for failure messages.
  std::string exit_status() const {
    if (exit_status_ < 0) return "running";
    if (WIFSIGNALED(exit_status_)) return "signal " + std::to_string(WTERMSIG(exit_status_));
    return "exit " + std::to_string(WEXITSTATUS(exit_status_));
  }
  const std::string& stdout_text() const { return out_; }

  // Sends `sig` and returns the exit status (-1: did not exit normally within the deadline).
  int signal_and_wait(int sig, std::chrono::seconds deadline = std::chrono::seconds(30)) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    auto end = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    while (std::chrono::steady_clock::now() < end) {
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(20'000);
    }
    return -1;
  }

 private:
  void read_port() {
    const std::string prefix = "orderly sim listening on 127.0.0.1:";
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < end) {
      auto nl = out_.find('\n');
      if (nl != std::string::npos) {
        if (out_.compare(0, prefix.size(), prefix) == 0) {
          port_ = static_cast<std::uint16_t>(std::stoi(out_.substr(prefix.size(), nl)));
        }
        return;
      }
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) return;
      out_.append(buf, static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int exit_status_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string out_;
};

}  // namespace orderly::sim::testing
