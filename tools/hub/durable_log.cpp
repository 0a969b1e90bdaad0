#include "durable_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace iotgw::hub {

namespace {

// Record: u32 length of (type + payload), u8 type, payload. Payload fields: i64 as 8 bytes,
// strings as u32 length + bytes. Little-endian, as the machines this runs on.
void put_u32(std::string& out, std::uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), 4);
}
void put_i64(std::string& out, std::int64_t v) {
  out.append(reinterpret_cast<const char*>(&v), 8);
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out += s;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool i64(std::int64_t& v) { return raw(&v, 8); }
  bool str(std::string& s) {
    std::uint32_t n = 0;
    if (!raw(&n, 4) || n > data_.size() - at_) return false;
    s.assign(data_.substr(at_, n));
    at_ += n;
    return true;
  }
  bool message(proton::message& m) {
    std::string bytes;
    if (!str(bytes)) return false;
    m.decode(std::vector<char>(bytes.begin(), bytes.end()));
    return true;
  }

 private:
  bool raw(void* out, std::size_t n) {
    if (data_.size() - at_ < n) return false;
    std::memcpy(out, data_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::string_view data_;
  std::size_t at_ = 0;
};

}  // namespace

DurableLog::DurableLog(const std::filesystem::path& dir, bool fsync, const Replay& replay)
    : fsync_(fsync) {
  std::filesystem::create_directories(dir);
  const auto file = dir / "hub.log";
  file_ = file;
  std::string data;
  {
    std::ifstream in(file, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::size_t at = 0, good_end = 0;
  while (data.size() - at >= 5) {
    std::uint32_t len = 0;
    std::memcpy(&len, data.data() + at, 4);
    if (len == 0 || data.size() - at - 4 < len) break;  // torn tail
    const char type = data[at + 4];
    Reader r(std::string_view(data).substr(at + 5, len - 1));
    std::int64_t seq = 0, expires = 0, enqueued = 0;
    std::string device, how;
    proton::message m;
    try {
      if (type == 'T' && r.i64(seq) && r.message(m)) {
        replay.telemetry(seq, std::move(m));
      } else if (type == 'C' && r.str(device) && r.i64(seq) && r.i64(expires) && r.i64(enqueued) &&
                 r.message(m)) {
        replay.c2d(device, seq, expires, enqueued, std::move(m));
      } else if (type == 'A' && r.str(device) && r.i64(seq)) {
        replay.c2d_abandoned(device, seq);
      } else if (type == 'E' && r.str(device) && r.i64(seq) && r.str(how)) {
        replay.c2d_ended(device, seq, how);
      } else if (type == 'S' && r.i64(seq) && r.i64(expires)) {
        replay.sequences(seq, expires);
      } else if (type == 'W' && r.str(device) && r.str(how)) {
        if (replay.twin) replay.twin(device, how);
      } else {
        break;
      }
    } catch (const std::exception&) {
      break;  // a record that does not decode ends the good part, like a torn one
    }
    at += 4 + len;
    good_end = at;
  }
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  if (good_end != data.size() && ::ftruncate(fd_, static_cast<off_t>(good_end)) != 0) {
    throw std::runtime_error("cannot cut the torn end of " + file.string() + ": " +
                             std::strerror(errno));
  }
}

void DurableLog::compact(const std::function<void(DurableLog&)>& write_all) {
  if (fd_ < 0) return;
  const auto tmp = file_.string() + ".compact";
  const int fresh = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fresh < 0) throw std::runtime_error("cannot open " + tmp + ": " + std::strerror(errno));
  const int old = fd_;
  fd_ = fresh;
  try {
    write_all(*this);
    if (::fdatasync(fresh) != 0)
      throw std::runtime_error("fdatasync " + tmp + ": " + std::strerror(errno));
    std::filesystem::rename(tmp, file_);
  } catch (...) {
    ::close(fresh);
    fd_ = old;
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  ::close(old);
}

DurableLog::~DurableLog() {
  if (fd_ >= 0) ::close(fd_);
}

void DurableLog::append(char type, const std::string& payload) {
  if (fd_ == -2)
    throw std::runtime_error("the data dir is unusable after an earlier write failure");
  if (fd_ < 0) return;
  std::string rec;
  rec.reserve(payload.size() + 5);
  put_u32(rec, static_cast<std::uint32_t>(payload.size() + 1));
  rec += type;
  rec += payload;
  // One write() per record: O_APPEND keeps it whole and in order; a short write is retried.
  // A write that fails halfway is cut off again, or every record after it would be lost with
  // it on the next start (replay stops at the first bad record).
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  std::size_t done = 0;
  while (done < rec.size()) {
    const auto n = ::write(fd_, rec.data() + done, rec.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      if (before < 0 || ::ftruncate(fd_, before) != 0) {
        ::close(fd_);  // cannot repair: take no more, so nothing good lands behind the tear
        fd_ = -2;
      }
      throw std::runtime_error("data dir write failed: " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (fsync_ && ::fdatasync(fd_) != 0)
    throw std::runtime_error(std::string("fdatasync failed: ") + std::strerror(errno));
}

void DurableLog::telemetry(std::int64_t seq, const EncodedMessage& m) {
  if (fd_ == -1) return;
  std::string p;
  put_i64(p, seq);
  put_str(p, {m.data(), m.size()});
  append('T', p);
}

void DurableLog::c2d(const std::string& device, std::int64_t seq, std::int64_t expires_unix_ms,
                     std::int64_t enqueued_unix_ms, const EncodedMessage& m) {
  if (fd_ == -1) return;
  std::string p;
  put_str(p, device);
  put_i64(p, seq);
  put_i64(p, expires_unix_ms);
  put_i64(p, enqueued_unix_ms);
  put_str(p, {m.data(), m.size()});
  append('C', p);
}

void DurableLog::sequences(std::int64_t telemetry_next, std::int64_t c2d_next) {
  if (fd_ == -1) return;
  std::string p;
  put_i64(p, telemetry_next);
  put_i64(p, c2d_next);
  append('S', p);
}

void DurableLog::c2d_abandoned(const std::string& device, std::int64_t seq) {
  if (fd_ == -1) return;
  std::string p;
  put_str(p, device);
  put_i64(p, seq);
  append('A', p);
}

void DurableLog::c2d_ended(const std::string& device, std::int64_t seq, const std::string& how) {
  if (fd_ == -1) return;
  std::string p;
  put_str(p, device);
  put_i64(p, seq);
  put_str(p, how);
  append('E', p);
}

void DurableLog::twin(const std::string& device, const std::string& document) {
  if (fd_ == -1) return;
  std::string p;
  put_str(p, device);
  put_str(p, document);
  append('W', p);
}

}  // namespace iotgw::hub
