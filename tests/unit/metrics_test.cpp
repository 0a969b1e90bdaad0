// The metrics registry's text format, read back the way Prometheus reads it: cumulative buckets,
// escaped label values, one family per name, and collectors that go with their subscription.
#include <gtest/gtest.h>

#include "iotgw/common/metrics.hpp"

namespace iotgw::metrics {
namespace {

TEST(Metrics, HistogramBucketsAreCumulativeWithInfAndSum) {
  Registry r;
  constexpr std::array<double, 2> bounds{0.1, 1};
  auto& h = r.histogram("t_seconds", "help", bounds, {{"l", "a"}});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in it (le)
  h.observe(0.5);
  h.observe(7);
  const auto text = r.render();
  EXPECT_NE(text.find("# TYPE t_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{l=\"a\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{l=\"a\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{l=\"a\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_sum{l=\"a\"} 7.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_count{l=\"a\"} 4\n"), std::string::npos) << text;
}

TEST(Metrics, TheSameNameAndLabelsAreTheSameCounter) {
  Registry r;
  r.counter("x_total", "h", {{"listener", "a"}}).inc(2);
  r.counter("x_total", "h", {{"listener", "a"}}).inc(3);
  r.counter("x_total", "h", {{"listener", "b"}}).inc();
  const auto text = r.render();
  EXPECT_NE(text.find("x_total{listener=\"a\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{listener=\"b\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("# TYPE x_total"), text.rfind("# TYPE x_total")) << "one family header";
  EXPECT_THROW(r.gauge("x_total", "h"), std::logic_error);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(render_labels({{"path", "a\"b\\c\nd"}}), R"({path="a\"b\\c\nd"})");
  EXPECT_EQ(render_labels({}), "");
}

TEST(Metrics, ACollectorReportsUntilItsSubscriptionGoes) {
  Registry r;
  {
    auto sub = r.collect([](Scrape& s) { s.gauge("live_things", "h", {}, 42); });
    EXPECT_NE(r.render().find("live_things 42\n"), std::string::npos);
  }
  EXPECT_EQ(r.render().find("live_things"), std::string::npos);
}

}  // namespace
}  // namespace iotgw::metrics
