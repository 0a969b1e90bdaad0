// `zstd`: compresses payloads on the way up and decompresses them on the way down, marking them
// with content-encoding `zstd` as HTTP and AMQP do. A decompression bomb is refused: the output
// is bounded by max_decompressed_bytes whatever the frame claims. An optional trained
// dictionary (zstd --train) is shared by both directions and by every loop, read-only.
#include <zstd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <iotgw/plugin.hpp>

namespace {

constexpr std::string_view kEncoding = "content-encoding";

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct CDictFree {
  void operator()(ZSTD_CDict* d) const { ZSTD_freeCDict(d); }
};
struct DDictFree {
  void operator()(ZSTD_DDict* d) const { ZSTD_freeDDict(d); }
};

// One compression and one decompression context per thread: a stage instance is shared by the
// event loops, and contexts are not.
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}

class Zstd final : public iotgw::StageBase {
 public:
  static constexpr const char* name = "zstd";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "zstd: compress upstream payloads, decompress downstream ones (content-encoding zstd)";
  static constexpr iotgw_config_key config_keys[] = {
      {"level", IOTGW_CFG_INT, "3", "compression level, 1 (fast) to 19 (small)"},
      {"min_bytes", IOTGW_CFG_SIZE, "256", "payloads smaller than this go up as they are"},
      {"max_decompressed_bytes", IOTGW_CFG_SIZE, "1MiB",
       "a downstream message that would decompress to more is refused"},
      {"dictionary", IOTGW_CFG_STRING, "", "a trained dictionary file (zstd --train); empty: none"},
  };

  Zstd(const iotgw::Context& ctx, const iotgw::Config& config) : StageBase(ctx) {
    level_ = static_cast<int>(config.integer("level", 1, ZSTD_maxCLevel()));
    min_bytes_ = config.size("min_bytes");
    max_out_ = config.size("max_decompressed_bytes");
    if (max_out_ == 0) throw iotgw::Error("max_decompressed_bytes must be at least 1 byte");
    if (const auto path = config.string("dictionary"); !path.empty()) {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw iotgw::Error("cannot read dictionary " + path);
      const std::string dict((std::istreambuf_iterator<char>(in)), {});
      cdict_.reset(ZSTD_createCDict(dict.data(), dict.size(), level_));
      ddict_.reset(ZSTD_createDDict(dict.data(), dict.size()));
      if (!cdict_ || !ddict_) throw iotgw::Error("dictionary " + path + " is not usable");
    }
  }

  iotgw::Verdict upstream(iotgw::Message& msg, std::string& reason) override {
    const auto body = msg.body();
    if (body.size() < min_bytes_ || msg.get(iotgw::Scope::system, kEncoding)) {
      return iotgw::Verdict::proceed;  // small, or already encoded by someone else
    }
    auto out = msg.reserve_body(ZSTD_compressBound(body.size()));
    const std::size_t n = cdict_ ? ZSTD_compress_usingCDict(thread_cctx(), out.data(), out.size(),
                                                            body.data(), body.size(), cdict_.get())
                                 : ZSTD_compressCCtx(thread_cctx(), out.data(), out.size(),
                                                     body.data(), body.size(), level_);
    if (ZSTD_isError(n) != 0) {
      reason = std::string("zstd: ") + ZSTD_getErrorName(n);
      return iotgw::Verdict::reject;
    }
    msg.commit_body(n);
    msg.set(iotgw::Scope::system, kEncoding, "zstd");
    return iotgw::Verdict::proceed;
  }

  iotgw::Verdict downstream(iotgw::Message& msg, std::string& reason) override {
    const auto encoding = msg.get(iotgw::Scope::system, kEncoding);
    if (!encoding || *encoding != "zstd") return iotgw::Verdict::proceed;
    const auto body = msg.body();
    const auto declared = ZSTD_getFrameContentSize(body.data(), body.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) {
      reason = "zstd: not a zstd frame";
      return iotgw::Verdict::reject;
    }
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_out_) {
      reason = "zstd: decompresses to " + std::to_string(declared) + " bytes, over the limit of " +
               std::to_string(max_out_);
      return iotgw::Verdict::reject;
    }
    // Streamed into a buffer one byte larger than the frame says (or than allowed, when it does
    // not say): a frame that lies about its size is caught when it fills the buffer, and
    // nothing is ever allocated on a frame's word beyond the limit.
    const std::uint64_t room = declared == ZSTD_CONTENTSIZE_UNKNOWN ? max_out_ + 1 : declared + 1;
    auto out = msg.reserve_body(room);
    ZSTD_DCtx* dctx = thread_dctx();
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    ZSTD_DCtx_refDDict(dctx, ddict_.get());
    ZSTD_inBuffer in{body.data(), body.size(), 0};
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    std::size_t left = 1;
    while (left != 0) {
      left = ZSTD_decompressStream(dctx, &o, &in);
      if (ZSTD_isError(left) != 0) {
        reason = std::string("zstd: ") + ZSTD_getErrorName(left);
        return iotgw::Verdict::reject;
      }
      if (o.pos > max_out_) {
        reason =
            "zstd: decompresses to more than the limit of " + std::to_string(max_out_) + " bytes";
        return iotgw::Verdict::reject;
      }
      if (left != 0 && in.pos == in.size && o.pos < o.size) {
        reason = "zstd: truncated frame";
        return iotgw::Verdict::reject;
      }
    }
    msg.commit_body(o.pos);
    msg.remove(iotgw::Scope::system, kEncoding);
    return iotgw::Verdict::proceed;
  }

 private:
  int level_ = 3;
  std::uint64_t min_bytes_ = 256;
  std::uint64_t max_out_ = 1 << 20;
  std::unique_ptr<ZSTD_CDict, CDictFree> cdict_;
  std::unique_ptr<ZSTD_DDict, DDictFree> ddict_;
};

}  // namespace

IOTGW_STAGE_PLUGIN(Zstd)
