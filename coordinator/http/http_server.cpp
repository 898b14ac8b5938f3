#include "coordinator/http/http_server.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "coordinator/http/metrics_text.h"

namespace shardq {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr size_t kMaxHeaderBytes = 8192;

struct Reply {
  http::status status = http::status::ok;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

Reply Route(JobService& service, const http::request<http::empty_body>& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return {http::status::method_not_allowed, "text/plain; charset=utf-8", "only GET and HEAD\n"};
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  if (path == "/healthz") return {http::status::ok, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    if (service.ready()) return {http::status::ok, "text/plain; charset=utf-8", "ready\n"};
    return {http::status::service_unavailable, "text/plain; charset=utf-8", "not ready\n"};
  }
  if (path == "/metrics") {
    MetricsSnapshot snap;
    snap.metrics = service.metrics();
    snap.jobs_by_state = service.jobs_by_state();
    snap.queue_length = static_cast<int64_t>(service.queued_count());
    snap.workers = service.Info().workers;
    snap.ready = service.ready();
    return {http::status::ok, "text/plain; version=0.0.4; charset=utf-8", RenderMetricsText(snap)};
  }
  const std::string prefix = "/jobs/", suffix = "/report.html";
  if (path.size() > prefix.size() + suffix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const std::string id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    Result<std::string> file = service.ReportHtmlPath(id);
    if (!file.ok()) return {http::status::not_found, "text/plain; charset=utf-8", file.status().message() + "\n"};
    std::ifstream in(*file, std::ios::binary);
    if (!in) return {http::status::not_found, "text/plain; charset=utf-8", "no report at " + *file + "\n"};
    std::ostringstream body;
    body << in.rdbuf();
    return {http::status::ok, "text/html; charset=utf-8", body.str()};
  }
  return {http::status::not_found, "text/plain; charset=utf-8", "not found\n"};
}

// One request, one response, close: probes and scrapers need no keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, JobService& service) : stream_(std::move(socket)), service_(service) {}

  void Run() {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(0);
    stream_.expires_after(kRequestTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) return Close();
    Reply reply;
    unsigned version = 11;
    bool head = false;
    if (ec) {
      reply = {http::status::bad_request, "text/plain; charset=utf-8", "bad request: " + ec.message() + "\n"};
    } else {
      const auto& req = parser_.get();
      version = req.version();
      head = req.method() == http::verb::head;
      reply = Route(service_, req);
    }
    res_ = std::make_shared<http::response<http::string_body>>(reply.status, version);
    res_->set(http::field::server, "shardq");
    res_->set(http::field::content_type, reply.content_type);
    res_->keep_alive(false);
    res_->body() = head ? std::string() : std::move(reply.body);
    res_->prepare_payload();
    if (head) res_->content_length(reply.body.size());
    stream_.expires_after(kRequestTimeout);
    http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kMaxHeaderBytes};
  http::request_parser<http::empty_body> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  JobService& service_;
};

}  // namespace

HttpServer::HttpServer(boost::asio::io_context& io, JobService& service)
    : io_(io), service_(service), acceptor_(io) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(boost::asio::io_context& io, JobService& service,
                                                      const std::string& host, int port) {
  std::unique_ptr<HttpServer> s(new HttpServer(io, service));
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("--http " + host + ":" + std::to_string(port) + ": " + ec.message());
  const tcp::endpoint ep(address, static_cast<unsigned short>(port));
  s->acceptor_.open(ep.protocol(), ec);
  if (!ec) s->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor_.bind(ep, ec);
  if (!ec) s->acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("--http " + host + ":" + std::to_string(port) + ": " + ec.message());
  s->port_ = s->acceptor_.local_endpoint().port();
  s->Accept();
  return s;
}

void HttpServer::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), service_)->Run();
    Accept();
  });
}

void HttpServer::Stop() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

}  // namespace shardq
