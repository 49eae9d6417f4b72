#include "request-bridge.h"

namespace orthanc_fhir {

using Clock = std::chrono::steady_clock;

RequestBridge& RequestBridge::Instance() {
  static RequestBridge instance;
  return instance;
}

BridgeAnswer RequestBridge::CannedLocked(CannedAnswer kind) const {
  const auto index = static_cast<size_t>(kind);
  if (index < canned_.size()) {
    return canned_[index];
  }
  // JavaScript never got far enough to register its answers.
  static const uint16_t statuses[kCannedAnswerCount] = {504, 503, 500};
  BridgeAnswer answer;
  answer.status = statuses[index];
  answer.headers.emplace_back("content-type", "text/plain");
  answer.body = "The FHIR service is not available";
  return answer;
}

BridgeAnswer RequestBridge::Handle(BridgeRequest request, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mutex_);

  // During start-up or while the environment is recreated, wait for it
  // rather than failing at once: a client sees a slow answer, not an error.
  readyChanged_.wait_until(lock, deadline, [this] { return state_ != BridgeState::Starting; });
  if (state_ != BridgeState::Ready || handler_ == nullptr) {
    return CannedLocked(CannedAnswer::Unavailable);
  }

  auto pending = std::make_shared<Pending>();
  pending->request = std::move(request);
  if (!DispatchLocked(pending)) {
    return CannedLocked(CannedAnswer::Unavailable);
  }

  if (!pending->finished.wait_until(lock, deadline, [&] { return pending->done; })) {
    pending->done = true;
    pending_.erase(pending->id);
    BridgeAnswer answer = CannedLocked(CannedAnswer::Timeout);
    answer.timedOut = true;
    return answer;
  }
  return std::move(pending->answer);
}

bool RequestBridge::QueueLocked(const PendingPtr& pending) {
  // The thread-safe function owns this copy until call_js deletes it.
  auto* data = new PendingPtr(pending);
  if (handler_ == nullptr || napi_call_threadsafe_function(handler_, data, napi_tsfn_nonblocking) != napi_ok) {
    delete data;
    return false;
  }
  return true;
}

bool RequestBridge::DispatchLocked(const PendingPtr& pending) {
  pending->id = nextId_++;
  pending_.emplace(pending->id, pending);
  if (!QueueLocked(pending)) {
    pending_.erase(pending->id);
    return false;
  }
  return true;
}

bool RequestBridge::Probe(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto probe = std::make_shared<Pending>();
  probe->probe = true;
  if (!DispatchLocked(probe)) {
    return true;  // no environment to be stuck
  }
  const bool answered = probe->finished.wait_for(lock, limit, [&] { return probe->done; });
  pending_.erase(probe->id);
  return answered;
}

void RequestBridge::Attach(napi_threadsafe_function handler, std::vector<BridgeAnswer> canned) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = handler;
  if (canned.size() == kCannedAnswerCount) {
    canned_ = std::move(canned);
  }
  // Requests the previous environment never saw are replayed here.
  for (auto it = pending_.begin(); it != pending_.end();) {
    const PendingPtr pending = it->second;
    ++it;
    if (!QueueLocked(pending)) {
      FinishLocked(pending, CannedAnswer::Unavailable);
    }
  }
  if (state_ == BridgeState::Starting) {
    state_ = BridgeState::Ready;
  }
  readyChanged_.notify_all();
}

void RequestBridge::FinishLocked(const PendingPtr& pending, CannedAnswer kind) {
  pending->answer = CannedLocked(kind);
  pending->done = true;
  pending->finished.notify_all();
  pending_.erase(pending->id);
}

void RequestBridge::FinishAllLocked(CannedAnswer kind) {
  while (!pending_.empty()) {
    FinishLocked(pending_.begin()->second, kind);
  }
}

void RequestBridge::Detach(CannedAnswer kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = nullptr;
  if (state_ == BridgeState::Ready) {
    state_ = BridgeState::Starting;
  }
  if (state_ == BridgeState::Stopping) {
    FinishAllLocked(CannedAnswer::Unavailable);
    return;
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    const PendingPtr pending = it->second;
    ++it;
    if (pending->delivered || pending->probe) {
      FinishLocked(pending, kind);
    }
  }
}

bool RequestBridge::Answer(uint64_t id, BridgeAnswer answer) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = pending_.find(id);
  if (found == pending_.end()) {
    return false;
  }
  found->second->answer = std::move(answer);
  found->second->done = true;
  found->second->finished.notify_all();
  pending_.erase(found);
  return true;
}

void RequestBridge::Fail(uint64_t id) {
  BridgeAnswer failed;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failed = CannedLocked(CannedAnswer::Failed);
  }
  Answer(id, std::move(failed));
}

void RequestBridge::Suspend() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_ == BridgeState::Ready) {
    state_ = BridgeState::Starting;
  }
}

bool RequestBridge::Accepting() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_ == BridgeState::Ready;
}

void RequestBridge::BeginShutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = BridgeState::Stopping;
  FinishAllLocked(CannedAnswer::Unavailable);
  readyChanged_.notify_all();
}

void RequestBridge::Reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = BridgeState::Starting;
  handler_ = nullptr;
  pending_.clear();
}

}  // namespace orthanc_fhir
