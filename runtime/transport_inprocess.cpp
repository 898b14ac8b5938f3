#include <condition_variable>
#include <deque>
#include <mutex>

#include "runtime/transport.h"

namespace shardq {
namespace {

struct Message {
  int from, tag;
  std::vector<uint8_t> payload;
};

// The shared mailboxes of a two-rank in-process job.
struct Mailboxes {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> box[2];
};

class InProcessTransport : public Transport {
 public:
  InProcessTransport(std::shared_ptr<Mailboxes> m, int rank) : m_(std::move(m)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }

  Status Send(int dest, int tag, const std::vector<uint8_t>& payload) override {
    if (dest < 0 || dest > 1) return Status::Internal("in-process transport: no rank " + std::to_string(dest));
    {
      std::lock_guard<std::mutex> lock(m_->mu);
      m_->box[dest].push_back({rank_, tag, payload});
    }
    m_->cv.notify_all();
    return Status::OK();
  }

  void Abort(int) override {}

  bool Probe(int source, int tag) override {
    std::lock_guard<std::mutex> lock(m_->mu);
    for (const Message& m : m_->box[rank_])
      if (m.tag == tag && (source == kAnySource || m.from == source)) return true;
    return false;
  }

  Status Recv(int source, int tag, std::vector<uint8_t>* payload, int* from) override {
    std::unique_lock<std::mutex> lock(m_->mu);
    auto& box = m_->box[rank_];
    for (;;) {
      for (auto it = box.begin(); it != box.end(); ++it) {
        if (it->tag == tag && (source == kAnySource || it->from == source)) {
          *payload = std::move(it->payload);
          if (from) *from = it->from;
          box.erase(it);
          return Status::OK();
        }
      }
      m_->cv.wait(lock);
    }
  }

 private:
  std::shared_ptr<Mailboxes> m_;
  int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Transport>> MakeInProcessPair() {
  auto m = std::make_shared<Mailboxes>();
  std::vector<std::unique_ptr<Transport>> v;
  v.emplace_back(new InProcessTransport(m, 0));
  v.emplace_back(new InProcessTransport(m, 1));
  return v;
}

}  // namespace shardq
