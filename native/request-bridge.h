// Hands requests from Orthanc's threads (HTTP requests to /fhir, worklist
// C-FIND queries) to the JavaScript handler on the Node thread and carries the
// answers back. Knows nothing of FHIR: the JavaScript side registers the
// bodies to use for "timed out" and "unavailable" answers.
#pragma once

#include <node_api.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace orthanc_fhir {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct BridgeRequest {
  std::string channel = "http";  // or "worklist", or "filter" (allow: 200)
  std::string method;
  std::string ip;  // the client's address, when Orthanc gives it (the filter)
  std::string url;
  HeaderList query;
  HeaderList headers;  // keys lower-cased
  std::string body;
};

struct BridgeAnswer {
  uint16_t status = 500;
  HeaderList headers;
  std::string body;
  bool timedOut = false;  // set by the bridge, never by JavaScript
};

// Answers the bridge gives on its own, rendered by JavaScript in advance.
enum class CannedAnswer { Timeout = 0, Unavailable = 1, Failed = 2 };
constexpr size_t kCannedAnswerCount = 3;

// The states the HTTP threads see.
enum class BridgeState { Starting, Ready, Stopping };

class RequestBridge {
 public:
  static RequestBridge& Instance();

  // Called on an Orthanc HTTP thread: blocks until JavaScript answers, the
  // timeout expires or the bridge stops.
  BridgeAnswer Handle(BridgeRequest request, std::chrono::milliseconds timeout);

  // Node thread: JavaScript registered its handler (a thread-safe function)
  // and the canned answers used when it cannot answer.
  void Attach(napi_threadsafe_function handler, std::vector<BridgeAnswer> canned);
  // Node thread: the environment is going away; stop calling into it and
  // answer every request it had received with `kind`. Requests it never saw
  // wait for the next environment, unless Orthanc is stopping.
  void Detach(CannedAnswer kind);
  // Node thread: JavaScript answers request `id`. False when nobody waits
  // any more (timed out or already answered).
  bool Answer(uint64_t id, BridgeAnswer answer);
  // Node thread: the handler failed before it could answer request `id`.
  void Fail(uint64_t id);

  // The environment is being stopped (process.exit(), a stall): requests wait
  // for the next one instead of reaching this one.
  void Suspend();
  // Whether requests may reach JavaScript now (checked on the Node thread).
  bool Accepting() const;
  // Orthanc is stopping: answer everything now and refuse new requests.
  void BeginShutdown();
  // A fresh plugin life starts (first start or after /tools/reset).
  void Reset();

  // Whether the Node thread picks up a no-op within `limit`: after a time-out
  // this tells a slow handler (the loop still turns) from a stuck one.
  bool Probe(std::chrono::milliseconds limit);

  // Used by the Node thread's call_js to build the JavaScript request.
  struct Pending;
  using PendingPtr = std::shared_ptr<Pending>;

 private:
  RequestBridge() = default;
  BridgeAnswer CannedLocked(CannedAnswer kind) const;
  // Queues `pending` for the Node thread; false when the handler is gone.
  bool DispatchLocked(const PendingPtr& pending);
  bool QueueLocked(const PendingPtr& pending);
  void FinishAllLocked(CannedAnswer kind);
  void FinishLocked(const PendingPtr& pending, CannedAnswer kind);

  mutable std::mutex mutex_;
  std::condition_variable readyChanged_;
  BridgeState state_ = BridgeState::Starting;
  napi_threadsafe_function handler_ = nullptr;
  std::vector<BridgeAnswer> canned_;  // indexed by CannedAnswer, empty until JavaScript registers them
  uint64_t nextId_ = 1;
  std::map<uint64_t, PendingPtr> pending_;
};

struct RequestBridge::Pending {
  uint64_t id = 0;
  bool probe = false;      // answered by the shim without calling JavaScript
  bool delivered = false;  // JavaScript has seen it (set on the Node thread)
  BridgeRequest request;
  bool done = false;
  BridgeAnswer answer;
  std::condition_variable finished;
};

}  // namespace orthanc_fhir
