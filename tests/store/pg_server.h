#pragma once
// A throwaway PostgreSQL server for tests and benchmarks: initdb into a temp dir, listen on
// 127.0.0.1 at a free port (unix socket inside the temp dir), trust auth on loopback, removed on
// destruction. CI runs as root and initdb refuses root, so the server runs as the `postgres`
// user that Debian's package creates. A watchdog process removes the server if this process
// dies without running destructors (a crash, SIGKILL).
//
// Header-only so bench/ can use it without a library. Needs nothing but the binaries of the
// Debian `postgresql` package (found under /usr/lib/postgresql/*/bin or $ORDERLY_PG_BINDIR).

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../support/ports.h"

namespace orderly::testing {

class PgServer {
 public:
  struct Options {
    bool durable = false;  // fsync on (benchmarks); tests run with fsync off for speed
  };

  // nullptr with `*error` set when the server cannot be started (missing binaries included:
  // callers fail, they never skip).
  static std::unique_ptr<PgServer> start(Options options, std::string* error) {
    std::unique_ptr<PgServer> s(new PgServer());
    if (!s->init(options, error)) return nullptr;
    return s;
  }

  ~PgServer() {
    if (!dir_.empty()) {
      std::string ignored;
      stop_immediate(&ignored);
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
    if (watchdog_fd_ >= 0) ::close(watchdog_fd_);  // the watchdog sees EOF and exits
    if (watchdog_pid_ > 0) ::waitpid(watchdog_pid_, nullptr, 0);
  }

  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  const std::string& bindir() const { return bindir_; }
  std::string url(const std::string& db, const std::string& user = "postgres") const {
    return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }

  // A fresh, empty database; returns its URL ("" with *error on failure).
  std::string create_database(std::string* error) {
    static std::atomic<int> counter{0};
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    if (!sql("postgres", "CREATE DATABASE " + name, nullptr, error)) return "";
    return url(name);
  }

  // Runs SQL through psql as the superuser. Only fixture set-up text, never test data.
  bool sql(const std::string& db, const std::string& text, std::string* out, std::string* error) {
    return run({bindir_ + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                "127.0.0.1", "-p", std::to_string(port_), "-U", "postgres", "-d", db, "-c", text},
               false, out, error);
  }

  // `pg_ctl stop -m immediate`: the server dies like a crash; clients see their connections drop.
  bool stop_immediate(std::string* error) {
    if (!running_) return true;
    running_ = false;
    return run({bindir_ + "/pg_ctl", "-D", data_, "-m", "immediate", "-w", "stop"}, true, nullptr,
               error);
  }

  bool start_again(std::string* error) {
    if (running_) return true;
    if (!run({bindir_ + "/pg_ctl", "-D", data_, "-l", dir_ + "/server.log", "-w", "-t", "60",
              "start"},
             true, nullptr, error)) {
      return false;
    }
    running_ = true;
    return true;
  }

  std::string log_tail() const {
    std::ifstream in(dir_ + "/server.log");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

 private:
  PgServer() = default;

  static std::string find_bindir() {
    if (const char* env = std::getenv("ORDERLY_PG_BINDIR"); env && *env) return env;
    glob_t g{};
    std::string best;
    int best_version = -1;
    if (::glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        const std::string path = g.gl_pathv[i];
        const auto start = std::string("/usr/lib/postgresql/").size();
        const int version = std::atoi(path.c_str() + start);
        if (version > best_version) {
          best_version = version;
          best = path.substr(0, path.size() - std::string("/initdb").size());
        }
      }
    }
    ::globfree(&g);
    return best;
  }

  // Runs argv, as the server's user when `as_server_user`; captures stdout+stderr.
  bool run(const std::vector<std::string>& argv, bool as_server_user, std::string* out,
           std::string* error) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      *error = "pipe failed";
      return false;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid == 0) {
      ::dup2(pipefd[1], 1);
      ::dup2(pipefd[1], 2);
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      if (as_server_user && drop_uid_ >= 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(drop_gid_) != 0 || ::setuid(drop_uid_) != 0) {
          ::_exit(126);
        }
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(pipefd[1]);
    std::string output;
    char buf[4096];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) != 0;) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      output.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipefd[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out) *out = output;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    *error = argv[0] + " failed (status " + std::to_string(status) + "): " + output;
    return false;
  }

  bool init(Options options, std::string* error) {
    bindir_ = find_bindir();
    if (bindir_.empty() || ::access((bindir_ + "/initdb").c_str(), X_OK) != 0) {
      *error =
          "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install the "
          "Debian package `postgresql`: scripts/bootstrap does) or set ORDERLY_PG_BINDIR";
      return false;
    }
    if (::geteuid() == 0) {
      // initdb refuses root: run the server as the package's `postgres` user.
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) {
        *error = "running as root but there is no `postgres` user to run the server as";
        return false;
      }
      drop_uid_ = static_cast<int>(pw->pw_uid);
      drop_gid_ = static_cast<int>(pw->pw_gid);
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/orderly-pg-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      *error = "mkdtemp failed for " + templ;
      return false;
    }
    dir_ = templ;
    data_ = dir_ + "/data";
    start_watchdog();
    if (drop_uid_ >= 0 && ::chown(dir_.c_str(), drop_uid_, drop_gid_) != 0) {
      *error = "chown " + dir_ + " to postgres failed";
      return false;
    }
    if (!make_data_dir(error)) return false;
    // Passwords are checked for one role only, so tests can show an authentication failure.
    {
      std::ofstream hba(data_ + "/pg_hba.conf", std::ios::trunc);
      hba << "local all all trust\n"
          << "host all orderly_pw 127.0.0.1/32 scram-sha-256\n"
          << "host all all 127.0.0.1/32 trust\n";
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_port();
      {
        std::ofstream conf(data_ + "/postgresql.auto.conf", std::ios::trunc);
        conf << "listen_addresses = '127.0.0.1'\n"
             << "port = " << port_ << "\n"
             << "unix_socket_directories = '" << dir_ << "'\n"
             << "max_connections = 100\n"
             << "fsync = " << (options.durable ? "on" : "off") << "\n"
             // Always on: tests crash the server (stop -m immediate) and count on every
             // acknowledged commit surviving; fsync off only skips the disk flush, which a
             // killed server (not a killed machine) does not need.
             << "synchronous_commit = on\n"
             << "full_page_writes = " << (options.durable ? "on" : "off") << "\n"
             << "log_min_messages = warning\n";
      }
      if (drop_uid_ >= 0) {
        (void)::chown((data_ + "/postgresql.auto.conf").c_str(), drop_uid_, drop_gid_);
        (void)::chown((data_ + "/pg_hba.conf").c_str(), drop_uid_, drop_gid_);
      }
      std::string start_error;
      if (start_again(&start_error)) return true;
      *error = start_error + "\n" + log_tail();
    }
    return false;
  }

  // initdb costs seconds on a busy machine and every test process needs a cluster (ctest runs
  // each test alone), so a pristine initdb result is kept beside the test binary and copied.
  bool make_data_dir(std::string* error) {
    std::string exe(4096, '\0');
    const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1);
    std::string cache;
    if (n > 0) {
      exe.resize(static_cast<std::size_t>(n));
      const std::string version = std::filesystem::path(bindir_).parent_path().filename();
      cache = std::filesystem::path(exe).parent_path().string() + "/pg-template-" + version;
    }
    if (!cache.empty() && std::filesystem::exists(cache + "/PG_VERSION")) {
      std::string ignored;
      if (run({"/bin/cp", "-a", cache, data_}, false, nullptr, &ignored)) return true;
      std::error_code ec;
      std::filesystem::remove_all(data_, ec);
    }
    if (!run({bindir_ + "/initdb", "-D", data_, "-U", "postgres", "-A", "trust", "-E", "UTF8",
              "--locale=C", "--no-sync", "--no-instructions"},
             true, nullptr, error)) {
      return false;
    }
    if (!cache.empty()) {
      // Copy, then rename into place: a concurrent test process sees all of it or nothing.
      const std::string partial = cache + ".partial." + std::to_string(::getpid());
      std::string ignored;
      std::error_code ec;
      if (!run({"/bin/cp", "-a", data_, partial}, false, nullptr, &ignored) ||
          std::rename(partial.c_str(), cache.c_str()) != 0) {
        std::filesystem::remove_all(partial, ec);
      }
    }
    return true;
  }

  // A shell that waits for this process to go away (EOF on its stdin), then kills the server
  // and removes the directory. Started before anything is created, in its own session so a
  // Ctrl-C aimed at the tests does not skip the cleanup.
  void start_watchdog() {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return;
    const pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) {
      ::setsid();
      ::dup2(pipefd[0], 0);
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      const char* script =
          "while read -r _; do :; done; "
          "pidfile=\"$1/data/postmaster.pid\"; "
          "if [ -f \"$pidfile\" ]; then pid=$(head -n 1 \"$pidfile\"); "
          "kill -QUIT \"$pid\" 2>/dev/null; i=0; "
          "while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
          "fi; rm -rf \"$1\"";
      ::execl("/bin/sh", "sh", "-c", script, "orderly-pg-watchdog", dir_.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(pipefd[0]);
    watchdog_fd_ = pipefd[1];
    watchdog_pid_ = pid;
  }

  std::string bindir_;
  std::string dir_;
  std::string data_;
  int port_ = -1;
  int drop_uid_ = -1;
  int drop_gid_ = -1;
  bool running_ = false;
  int watchdog_fd_ = -1;
  pid_t watchdog_pid_ = -1;
};

}  // namespace orderly::testing

namespace orderly::testing {

// For the test binary (tests/store/pg_server.cc): ONE server per test binary run, started on
// first use and removed at exit. A forked test child must leave with _exit() so that it never
// stops its parent's server.
PgServer* shared_pg_server(std::string* error);
// URL of a fresh database on the shared server; "" with *error on failure.
std::string new_pg_database(std::string* error);

}  // namespace orderly::testing
