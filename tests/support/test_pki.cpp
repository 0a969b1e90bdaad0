#include "test_pki.hpp"

#include <stdexcept>

#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {

namespace {

void openssl(const std::vector<std::string>& args, const std::string& what) {
  const auto r = run("/usr/bin/openssl", args, std::chrono::seconds(60));
  if (r.code != 0) throw std::runtime_error(what + " failed:\n" + r.output);
}

}  // namespace

TestPki::TestPki(std::filesystem::path dir) : dir_(std::move(dir)) {
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
           "/CN=iotgw test CA", "-keyout", (dir_ / "ca.key").string(), "-out", ca()},
          "making the test CA");
}

void TestPki::issue(const std::string& name, const std::string& cn, const std::string& san) const {
  const auto csr = (dir_ / (name + ".csr")).string();
  openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn, "-keyout", key(name),
           "-out", csr},
          "making " + name + "'s key");
  std::vector<std::string> args{"x509",
                                "-req",
                                "-in",
                                csr,
                                "-CA",
                                ca(),
                                "-CAkey",
                                (dir_ / "ca.key").string(),
                                "-CAcreateserial",
                                "-days",
                                "2",
                                "-out",
                                cert(name)};
  if (!san.empty()) {
    const auto ext = dir_ / (name + ".ext");
    write_file(ext, "subjectAltName=" + san + "\n");
    args.push_back("-extfile");
    args.push_back(ext.string());
  }
  openssl(args, "signing " + name + "'s certificate");
}

void TestPki::self_signed(const std::string& name, const std::string& cn) const {
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
           "-keyout", key(name), "-out", cert(name)},
          "making " + name + "'s self-signed certificate");
}

}  // namespace iotgw::test
