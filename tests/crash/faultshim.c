// tests/crash/faultshim.c — a fault injector for the crash-consistency test (LD_PRELOAD).
//
// It wraps the system calls that put files on disk — open/openat (for writing), write, fsync,
// fdatasync, rename — and counts those that touch a file under FF_FAULT_DIR (other files, the
// terminal and the data read by the loader are not counted). By environment:
//   FF_FAULT_LOG=FILE         append one line per counted call: "N CALL PATH BYTES"
//   FF_FAULT_KILL_AT=N        the process kills itself (SIGKILL, as the OOM killer would) at counted
//                             call N, before it runs; with FF_FAULT_HALF=1 a write of 2 bytes or
//                             more first writes half its bytes (a write torn by the kill)
//   FF_FAULT_ENOSPC_AFTER=B   a full disk: once B bytes have been written under the folder, writes
//                             there fail with ENOSPC (the one that crosses B writes what fits);
//                             FF_FAULT_ENOSPC_CALLS=K: only K writes fail, then the disk has room
//                             again (a transient full disk)
// The counts are deterministic for a deterministic program: the test records a run's calls once
// (FF_FAULT_LOG), then kills fresh runs at chosen ones. Not part of the product.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void*, size_t);
static int (*real_open)(const char*, int, ...);
static int (*real_open64)(const char*, int, ...);
static int (*real_openat)(int, const char*, int, ...);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char*, const char*);

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char dir[PATH_MAX];
static size_t dir_len;
static int log_fd = -1;
static long kill_at = -1, calls = 0;
static int half = 0;
static long long enospc_after = -1, written = 0;
static long enospc_calls = -1, enospc_failed = 0;
static int ready = 0;

static void init(void) {
  if (ready) return;
  real_write = dlsym(RTLD_NEXT, "write");
  real_open = dlsym(RTLD_NEXT, "open");
  real_open64 = dlsym(RTLD_NEXT, "open64");
  real_openat = dlsym(RTLD_NEXT, "openat");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_rename = dlsym(RTLD_NEXT, "rename");
  const char* d = getenv("FF_FAULT_DIR");
  if (d && realpath(d, dir)) dir_len = strlen(dir);
  const char* v;
  if ((v = getenv("FF_FAULT_KILL_AT"))) kill_at = atol(v);
  if ((v = getenv("FF_FAULT_HALF"))) half = atoi(v);
  if ((v = getenv("FF_FAULT_ENOSPC_AFTER"))) enospc_after = atoll(v);
  if ((v = getenv("FF_FAULT_ENOSPC_CALLS"))) enospc_calls = atol(v);
  if ((v = getenv("FF_FAULT_LOG")))
    log_fd = ((int (*)(const char*, int, ...))dlsym(RTLD_NEXT, "open"))(v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ready = 1;
}

// Is `path` (absolute or relative to the working directory) under the watched folder?
static int watched_path(const char* path) {
  if (!dir_len || !path) return 0;
  char abs[PATH_MAX];
  if (path[0] == '/') {
    snprintf(abs, sizeof abs, "%s", path);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return 0;
    snprintf(abs, sizeof abs, "%s/%s", cwd, path);
  }
  // The folder itself was resolved with realpath; the run's paths are built from the same string
  // the test passes, which it passes resolved.
  return strncmp(abs, dir, dir_len) == 0 && (abs[dir_len] == '/' || abs[dir_len] == 0);
}

static int watched_fd(int fd, char* out, size_t n) {
  if (!dir_len || fd < 3) return 0;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t k = readlink(link, out, n - 1);
  if (k <= 0) return 0;
  out[k] = 0;
  return strncmp(out, dir, dir_len) == 0 && out[dir_len] == '/';
}

// Counts a call; kills the process when it is the chosen one. Returns the call's number.
static long count(const char* what, const char* path, size_t bytes, int* kill_now) {
  pthread_mutex_lock(&mu);
  long n = ++calls;
  if (log_fd >= 0) {
    char line[PATH_MAX + 64];
    int k = snprintf(line, sizeof line, "%ld %s %s %zu\n", n, what, path, bytes);
    real_write(log_fd, line, (size_t)k);
  }
  pthread_mutex_unlock(&mu);
  *kill_now = kill_at == n;
  return n;
}

static void die(void) {
  raise(SIGKILL);
  _exit(137);
}

ssize_t write(int fd, const void* buf, size_t size) {
  init();
  char path[PATH_MAX];
  if (!watched_fd(fd, path, sizeof path)) return real_write(fd, buf, size);
  int kill_now;
  count("write", path, size, &kill_now);
  if (kill_now) {
    if (half && size >= 2) real_write(fd, buf, size / 2);
    die();
  }
  if (enospc_after >= 0) {
    pthread_mutex_lock(&mu);
    long long room = enospc_after - written;
    int recovered = enospc_calls >= 0 && enospc_failed >= enospc_calls;
    if (!recovered && room < (long long)size) {
      if (room > 0) {
        ssize_t w = real_write(fd, buf, (size_t)room);
        if (w > 0) written += w;
        pthread_mutex_unlock(&mu);
        return w;
      }
      ++enospc_failed;
      pthread_mutex_unlock(&mu);
      errno = ENOSPC;
      return -1;
    }
    pthread_mutex_unlock(&mu);
  }
  ssize_t w = real_write(fd, buf, size);
  if (w > 0) {
    pthread_mutex_lock(&mu);
    written += w;
    pthread_mutex_unlock(&mu);
  }
  return w;
}

static int opened(const char* path, int flags) {
  if (!(flags & (O_WRONLY | O_RDWR)) || !watched_path(path)) return 0;
  int kill_now;
  count("open", path, 0, &kill_now);
  if (kill_now) die();
  return 1;
}

int open(const char* path, int flags, ...) {
  init();
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  opened(path, flags);
  return real_open(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  init();
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  opened(path, flags);
  return (real_open64 ? real_open64 : real_open)(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  init();
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  if (dirfd == AT_FDCWD || (path && path[0] == '/')) opened(path, flags);
  return real_openat(dirfd, path, flags, mode);
}

int fsync(int fd) {
  init();
  char path[PATH_MAX];
  if (watched_fd(fd, path, sizeof path)) {
    int kill_now;
    count("fsync", path, 0, &kill_now);
    if (kill_now) die();
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  init();
  char path[PATH_MAX];
  if (watched_fd(fd, path, sizeof path)) {
    int kill_now;
    count("fdatasync", path, 0, &kill_now);
    if (kill_now) die();
  }
  return real_fdatasync(fd);
}

int rename(const char* from, const char* to) {
  init();
  if (watched_path(to)) {
    int kill_now;
    count("rename", to, 0, &kill_now);
    if (kill_now) die();
  }
  return real_rename(from, to);
}
