#include "bridge/cbs_link.hpp"

#include <proton/error.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/value.hpp>

#include "iotgw/common/amqp_text.hpp"

namespace iotgw::bridge {

void CbsLink::open(proton::connection& c) {
  in_ = c.open_receiver("$cbs");
  out_ = c.open_sender("$cbs");
}

void CbsLink::reset() {
  waiting_.clear();
  out_ = proton::sender();
  in_ = proton::receiver();
}

void CbsLink::put_token(const std::string& audience, const std::string& token, Answer answer) {
  if (!out_) return;
  proton::message m;
  const std::string corr = "put-token-" + std::to_string(next_++);
  m.id(proton::message_id(corr));
  m.reply_to("cbs");
  m.to("$cbs");
  m.body(token);
  m.properties().put("operation", std::string("put-token"));
  m.properties().put("type", std::string("servicebus.windows.net:sastoken"));
  m.properties().put("name", audience);
  waiting_[corr] = std::move(answer);
  out_.send(m);
}

CbsLink::Reply CbsLink::read_reply(const proton::message& m) {
  Reply r;
  if (m.properties().empty()) {
    r.description = "the hub's CBS reply has no status-code";
    return r;
  }
  if (m.properties().exists("status-description"))
    r.description = amqp_text(m.properties().get("status-description"));
  if (!m.properties().exists("status-code")) {
    if (r.description.empty()) r.description = "the hub's CBS reply has no status-code";
    return r;
  }
  const auto code = m.properties().get("status-code");
  if (const auto status = amqp_integer(code)) {
    r.status = static_cast<int>(*status);
  } else {
    r.description =
        "the hub's CBS reply has a status-code that is not a number: " + amqp_text(code);
  }
  return r;
}

bool CbsLink::on_message(proton::delivery& d, const proton::message& m) {
  if (!in_ || d.receiver() != in_) return false;
  d.accept();
  auto w = waiting_.find(proton::to_string(m.correlation_id()));
  if (w == waiting_.end()) return true;
  auto answer = std::move(w->second);
  waiting_.erase(w);
  if (answer) answer(read_reply(m));
  return true;
}

}  // namespace iotgw::bridge
