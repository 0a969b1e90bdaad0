// IoT Hub's claims-based security node on one AMQP connection: put-token requests go out on a
// sender to `$cbs`, replies come back on a receiver from it, matched by correlation id. The
// hub's replies are read defensively: a reply that is not what IoT Hub sends is a refusal with
// a reason, never an exception inside Proton's dispatch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>

namespace iotgw::bridge {

class CbsLink {
 public:
  struct Reply {
    int status = 0;  // IoT Hub's: 200 or 202 when the token was taken
    std::string description;
    bool ok() const { return status == 200 || status == 202; }
  };
  using Answer = std::function<void(const Reply&)>;

  // Attaches the link pair on a newly opened connection.
  void open(proton::connection& c);
  bool is_open() const { return static_cast<bool>(out_); }
  // Puts a SAS token for `audience` ({hub}/devices/{id}); `answer` runs, inside Proton's
  // dispatch, when the hub replies. Queued by Proton until the link has credit.
  void put_token(const std::string& audience, const std::string& token, Answer answer);
  // Consumes the delivery if it came on the CBS receiver: true then.
  bool on_message(proton::delivery& d, const proton::message& m);
  // The connection is gone: unanswered puts are forgotten (tokens are put again on reconnect).
  void reset();
  std::size_t waiting() const { return waiting_.size(); }

  // A reply's status-code and status-description, whatever types the hub used for them.
  static Reply read_reply(const proton::message& m);

 private:
  proton::sender out_;
  proton::receiver in_;
  std::uint64_t next_ = 1;
  std::map<std::string, Answer> waiting_;  // by correlation id
};

}  // namespace iotgw::bridge
