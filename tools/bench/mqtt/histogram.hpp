// Latency histogram with bounded relative error (as HdrHistogram does it, much smaller): values
// in microseconds fall into 32 linear sub-buckets per power of two, so a percentile is within
// about 3% of the true value, whatever the spread, in a fixed 2,000-odd counters.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace iotgw::bench {

class Histogram {
 public:
  void record(std::uint64_t micros) {
    ++counts_[index(micros)];
    ++total_;
    if (micros > max_) max_ = micros;
  }
  void merge(const Histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    if (other.max_ > max_) max_ = other.max_;
  }
  // What was recorded after `earlier`, a copy of this histogram taken then. The span's largest
  // value is not kept, so its max is the upper edge of the highest bucket that grew.
  Histogram since(const Histogram& earlier) const {
    Histogram d;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      d.counts_[i] = counts_[i] - earlier.counts_[i];
      if (d.counts_[i] > 0) d.max_ = std::min(upper(i), max_);
    }
    d.total_ = total_ - earlier.total_;
    return d;
  }
  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }
  // The smallest value at or below which `q` (0..1) of the recorded values lie; the bucket's
  // upper edge, capped by the largest value seen.
  std::uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    const auto want = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= want && seen > 0) return std::min(upper(i), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSub = 5;  // 2^5 sub-buckets per power of two
  static constexpr std::size_t kBuckets = (64 - kSub + 1) << kSub;

  static std::size_t index(std::uint64_t v) {
    if (v < (1U << kSub)) return static_cast<std::size_t>(v);
    const unsigned top = 63U - static_cast<unsigned>(std::countl_zero(v));  // >= kSub
    const unsigned shift = top - kSub;
    return (static_cast<std::size_t>(shift + 1) << kSub) + ((v >> shift) & ((1U << kSub) - 1));
  }
  static std::uint64_t upper(std::size_t i) {
    if (i < (1U << kSub)) return i;
    const unsigned shift = static_cast<unsigned>(i >> kSub) - 1;
    const std::uint64_t sub = (i & ((1U << kSub) - 1)) | (1U << kSub);
    return ((sub + 1) << shift) - 1;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0, max_ = 0;
};

}  // namespace iotgw::bench
