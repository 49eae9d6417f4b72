// Orthanc's entry points. They read the configuration, start the embedded
// Node.js runtime and register the routes; every request is handed to
// JavaScript through the request bridge. Nothing thrown here reaches Orthanc.
#include "binding.h"
#include "node-runtime.h"
#include "plugin-context.h"
#include "request-bridge.h"

#include "http-filter.h"
#include "json.h"
#include "worklist.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <memory>
#include <sstream>

#ifndef ORTHANC_FHIR_VERSION
#define ORTHANC_FHIR_VERSION "0.0.0"
#endif

namespace orthanc_fhir {

namespace {

struct Settings {
  std::chrono::milliseconds requestTimeout{30000};
  std::string bundlePath;
  size_t heapLimitMiB = 1024;
  bool worklist = false;
  bool authorization = false;
};

bool g_running = false;
Settings g_settings;

// Counts the HTTP threads inside ServeFhir, so that Orthanc's stop can let
// them write their 503 before Orthanc closes the connections.
class ActiveRequests {
 public:
  class Scope {
   public:
    explicit Scope(ActiveRequests& owner) : owner_(owner) {
      std::lock_guard<std::mutex> lock(owner_.mutex_);
      owner_.count_++;
    }
    ~Scope() {
      std::lock_guard<std::mutex> lock(owner_.mutex_);
      if (--owner_.count_ == 0) owner_.idle_.notify_all();
    }

   private:
    ActiveRequests& owner_;
  };

  void WaitIdle(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait_for(lock, limit, [this] { return count_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  size_t count_ = 0;
};

ActiveRequests g_active;

constexpr std::chrono::milliseconds kStartTimeout{30000};
constexpr std::chrono::milliseconds kStopTimeout{10000};
// After a time-out, a Node thread that cannot pick up a no-op within this
// delay is stuck (an endless loop, say) and its environment is recreated.
constexpr std::chrono::milliseconds kStallLimit{1000};

// Reads what the shim needs before JavaScript runs: whether to start it, the
// bundle, V8's heap limit, the bridge's time-out and which of Orthanc's
// callbacks to register. JavaScript validates the whole section
// (src/config.ts) and refuses to start on a bad value, so beyond what must
// hold before it runs, values are read leniently here and no rule is stated
// twice. Returns an error, or "" with `enabled` set.
std::string ReadSettings(OrthancPluginContext* context, bool& enabled, Settings& settings) {
  enabled = false;
  char* text = OrthancPluginGetConfiguration(context);
  if (text == nullptr) {
    return "cannot read Orthanc's configuration";
  }
  Json::Value root;
  std::string errors;
  const bool parsed = ParseJson(text, root, errors);
  OrthancPluginFreeString(context, text);
  if (!parsed || !root.isObject()) {
    return "cannot parse Orthanc's configuration: " + errors;
  }
  const Json::Value& section = root["Fhir"];
  if (section.isNull()) {
    return "";
  }
  if (!section.isObject()) {
    return "\"Fhir\" must be an object";
  }
  const Json::Value& enable = section["Enable"];
  if (!enable.isNull() && !enable.isBool()) {
    return "\"Fhir.Enable\" must be true or false";
  }
  enabled = enable.isBool() && enable.asBool();
  // V8's own default (a share of the machine's memory) aborts the whole
  // process when reached; this limit restarts the environment instead.
  const Json::Value& heap = section["HeapLimit"];
  if (!heap.isNull()) {
    if (!heap.isIntegral() || heap.asInt64() < 64 || heap.asInt64() > 16384) {
      return "\"Fhir.HeapLimit\" must be a whole number of MiB between 64 and 16384";
    }
    settings.heapLimitMiB = static_cast<size_t>(heap.asInt64());
  }
  const Json::Value& bundle = section["Bundle"];
  if (!bundle.isNull() && !bundle.isString()) {
    return "\"Fhir.Bundle\" must be a path";
  }
  settings.bundlePath = bundle.isString() ? bundle.asString() : LibraryDirectory() + "/orthanc-fhir.js";
  const Json::Value& timeout = section["RequestTimeout"];
  if (timeout.isNumeric() && timeout.asDouble() > 0 && timeout.asDouble() <= 3600) {
    settings.requestTimeout = std::chrono::milliseconds(static_cast<int64_t>(timeout.asDouble() * 1000));
  }
  const auto enabledIn = [&section](const char* name) {
    const Json::Value& part = section[name];
    return part.isObject() && part["Enable"].isBool() && part["Enable"].asBool();
  };
  settings.worklist = enabledIn("Worklist");
  settings.authorization = enabledIn("Authorization");
  return "";
}

// Debian's DCMTK keeps Nagle's algorithm on its sockets unless TCP_NODELAY=1
// is in the environment (it reads it at every association), which holds each
// small DICOM answer back by 40 ms or more. Set before the Node thread starts,
// as setenv is not safe beside threads reading the environment.
void DisableNagleForDicom() {
  static bool ours = false;  // still ours after /tools/reset re-initializes the plugin
  const char* chosen = std::getenv("TCP_NODELAY");
  if (chosen == nullptr) {
    ours = setenv("TCP_NODELAY", "1", 0) == 0;
  }
  if (ours) {
    Log(LogLevel::Info, "TCP_NODELAY=1 set: DICOM associations send without Nagle's delay");
  } else if (chosen != nullptr) {
    Log(LogLevel::Info, std::string("TCP_NODELAY=") + chosen + " left as the environment chose");
  }
}

BridgeRequest ToRequest(const char* url, const OrthancPluginHttpRequest* request) {
  BridgeRequest result;
  result.method = MethodName(request->method);
  result.url = url;
  for (uint32_t i = 0; i < request->getCount; i++) {
    result.query.emplace_back(request->getKeys[i], request->getValues[i]);
  }
  for (uint32_t i = 0; i < request->headersCount; i++) {
    std::string key = request->headersKeys[i];
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    result.headers.emplace_back(std::move(key), request->headersValues[i]);
  }
  if (request->body != nullptr) {
    result.body.assign(static_cast<const char*>(request->body), request->bodySize);
  }
  return result;
}

void Send(OrthancPluginContext* context, OrthancPluginRestOutput* output, const BridgeAnswer& answer) {
  std::string contentType = "application/octet-stream";
  std::string allow;
  for (const auto& header : answer.headers) {
    if (header.first == "content-type") {
      contentType = header.second;
    } else if (header.first == "allow") {
      allow = header.second;
    } else {
      OrthancPluginSetHttpHeader(context, output, header.first.c_str(), header.second.c_str());
    }
  }
  if (answer.status == 200) {
    OrthancPluginAnswerBuffer(context, output, answer.body.data(), static_cast<uint32_t>(answer.body.size()),
                              contentType.c_str());
  } else if (answer.status == 405) {
    // Orthanc sends 405 only through this call, without a body.
    OrthancPluginSendMethodNotAllowed(context, output, allow.c_str());
  } else {
    OrthancPluginSetHttpHeader(context, output, "Content-Type", contentType.c_str());
    OrthancPluginSendHttpStatus(context, output, answer.status, answer.body.data(),
                                static_cast<uint32_t>(answer.body.size()));
  }
}

OrthancPluginErrorCode ServeFhir(OrthancPluginRestOutput* output, const char* url,
                                 const OrthancPluginHttpRequest* request) {
  return Firewall("request", OrthancPluginErrorCode_InternalError, [&] {
    ActiveRequests::Scope active(g_active);
    BridgeAnswer answer = RequestBridge::Instance().Handle(ToRequest(url, request), g_settings.requestTimeout);
    Send(Context(), output, answer);
    if (answer.timedOut && !RequestBridge::Instance().Probe(kStallLimit)) {
      NodeRuntime::Instance().Recycle("its event loop has been blocked since a request timed out");
    }
    return OrthancPluginErrorCode_Success;
  });
}

OrthancPluginErrorCode OnChange(OrthancPluginChangeType changeType, OrthancPluginResourceType resourceType,
                                const char* resourceId) {
  // A change that cannot be relayed is logged, never an error for Orthanc.
  return Firewall("relaying a change event", OrthancPluginErrorCode_Success, [&] {
    if (changeType == OrthancPluginChangeType_OrthancStopped) {
      // Answer requests in flight at once instead of holding up shutdown,
      // and give their threads the moment they need to send the answer.
      RequestBridge::Instance().BeginShutdown();
      g_active.WaitIdle(std::chrono::milliseconds(2000));
    }
    RelayChange(changeType, resourceType, resourceId);
    return OrthancPluginErrorCode_Success;
  });
}

int32_t Initialize(OrthancPluginContext* context) {
  ContextSlot() = context;
  if (!OrthancPluginCheckVersion(context)) {
    std::ostringstream message;
    message << "this plugin needs Orthanc " << ORTHANC_PLUGINS_MINIMAL_MAJOR_NUMBER << "."
            << ORTHANC_PLUGINS_MINIMAL_MINOR_NUMBER << "." << ORTHANC_PLUGINS_MINIMAL_REVISION_NUMBER
            << " or later, not " << context->orthancVersion;
    Log(LogLevel::Error, message.str());
    return -1;
  }
  OrthancPluginSetDescription(context, "FHIR server for the images and orders of Orthanc");

  bool enabled = false;
  Settings settings;
  const std::string error = ReadSettings(context, enabled, settings);
  if (!error.empty()) {
    Log(LogLevel::Error, "bad configuration: " + error);
    return -1;
  }
  if (!enabled) {
    Log(LogLevel::Warning, "disabled (set \"Fhir\": {\"Enable\": true} to serve /fhir)");
    return 0;
  }
  g_settings = settings;
  DisableNagleForDicom();
  const std::string failure = NodeRuntime::Instance().Start(settings.bundlePath, settings.heapLimitMiB, kStartTimeout);
  if (!failure.empty()) {
    Log(LogLevel::Error, "cannot start: " + failure);
    NodeRuntime::Instance().Stop(kStopTimeout);
    return -1;
  }
  g_running = true;
  OrthancPluginRegisterRestCallbackNoLock(context, "/fhir", ServeFhir);
  OrthancPluginRegisterRestCallbackNoLock(context, "/fhir/(.*)", ServeFhir);
  OrthancPluginRegisterOnChangeCallback(context, OnChange);
  if (settings.authorization) {
    // Every HTTP request Orthanc receives is then decided by JavaScript.
    RegisterHttpFilter(context, settings.requestTimeout);
  }
  if (settings.worklist && !RegisterWorklist(context, settings.requestTimeout)) {
    // Orthanc serves one worklist plugin; the FHIR server keeps running.
    Log(LogLevel::Error, "cannot serve the modality worklist: another plugin already does (Debian's ModalityWorklists sample, say)");
  }
  Log(LogLevel::Warning, settings.authorization ? "serving /fhir; every HTTP request is authorized" : "serving /fhir");
  return 0;
}

}  // namespace

}  // namespace orthanc_fhir

using namespace orthanc_fhir;

extern "C" {

ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext* context) {
  return Firewall("starting", -1, [&] { return Initialize(context); });
}

ORTHANC_PLUGINS_API void OrthancPluginFinalize() {
  Firewall("stopping", 0, [] {
    if (g_running) {
      NodeRuntime::Instance().Stop(kStopTimeout);
      g_running = false;
    }
    return 0;
  });
  ContextSlot() = nullptr;
}

ORTHANC_PLUGINS_API const char* OrthancPluginGetName() { return "orthanc-fhir"; }

ORTHANC_PLUGINS_API const char* OrthancPluginGetVersion() { return ORTHANC_FHIR_VERSION; }

}  // extern "C"
