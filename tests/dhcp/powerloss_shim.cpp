// LD_PRELOAD shim for the durable-ACK test: keeps, for every file under
// $METALPXE_POWERLOSS_DIR, a copy of its content as of its last fsync() or
// fdatasync() in $METALPXE_POWERLOSS_SHADOW. After kill -9 the test puts
// those copies in place of the files: what a power cut would leave on disk
// (the page cache, which kill -9 keeps, is gone). A server that sent an ACK
// before fsyncing the lease's write loses that lease here, and the test sees
// it.
//
// Each sync of a file under the directory is also made to take 20 ms (a slow
// disk): writes are always waiting for a sync while ACKs flow, so an ACK
// that left too early is caught every time, not only when the kill happens
// to land in the short window of a fast disk.
//
// The copy is taken before the real sync and renamed into place, so the
// shadow is always one whole synced state even when the process is killed
// mid-copy. The writer thread is the only one that writes and syncs these
// files, so nothing changes them between the copy and the sync.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using SyncFn = int (*)(int);

std::string PowerlossEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

void PowerlossSnapshot(int fd) {
  const std::string dir = PowerlossEnv("METALPXE_POWERLOSS_DIR");
  const std::string shadow = PowerlossEnv("METALPXE_POWERLOSS_SHADOW");
  if (dir.empty() || shadow.empty()) return;
  char path[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = readlink(link.c_str(), path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = '\0';
  const std::string p(path);
  if (p.size() <= dir.size() + 1 || p.compare(0, dir.size() + 1, dir + "/") != 0) return;  // not ours, or the dir
  const std::string name = p.substr(dir.size() + 1);
  if (name.find('/') != std::string::npos) return;
  usleep(20 * 1000);
  const std::string tmp = shadow + "/." + name + ".tmp";
  const int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) return;
  char buf[1 << 16];
  off_t off = 0;
  while (true) {
    const ssize_t got = pread(fd, buf, sizeof buf, off);
    if (got <= 0) break;
    if (write(out, buf, static_cast<std::size_t>(got)) != got) break;
    off += got;
  }
  close(out);
  rename(tmp.c_str(), (shadow + "/" + name).c_str());
}

}  // namespace

extern "C" int fsync(int fd) {
  static auto real = reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, "fsync"));
  PowerlossSnapshot(fd);
  return real(fd);
}

extern "C" int fdatasync(int fd) {
  static auto real = reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, "fdatasync"));
  PowerlossSnapshot(fd);
  return real(fd);
}
