// Every function the shim exposes to JavaScript, in one place. The types of
// this surface live in src/native.ts.
#include "binding.h"

#include "node-runtime.h"
#include "plugin-context.h"
#include "request-bridge.h"
#include "napi-values.h"
#include "rest-call.h"
#include "worklist.h"

#include <napi.h>

#include <mutex>

namespace orthanc_fhir {

namespace {

std::mutex g_changeMutex;
napi_threadsafe_function g_changeHandler = nullptr;  // guarded by g_changeMutex

struct ChangeEvent {
  int32_t changeType;
  int32_t resourceType;
  std::string resourceId;
};

BridgeAnswer ToAnswer(const Napi::Value& status, const Napi::Value& headers, const Napi::Value& body) {
  BridgeAnswer answer;
  answer.status = static_cast<uint16_t>(status.ToNumber().Uint32Value());
  answer.headers = ToHeaderList(headers);
  answer.body = ToBody(body);
  return answer;
}

// The two functions below run on the Node thread from libuv callbacks, and
// may run while the environment is being terminated (process.exit(), a
// recycle): they use plain N-API calls and check every status, because
// node-addon-api's exceptions abort the process when JavaScript cannot run.

bool SetNamed(napi_env env, napi_value object, const char* name, napi_value value) {
  return value != nullptr && napi_set_named_property(env, object, name, value) == napi_ok;
}

napi_value MakeRequestObject(napi_env env, const RequestBridge::Pending& pending) {
  const BridgeRequest& request = pending.request;
  napi_value object = nullptr, id = nullptr, query = nullptr, headers = nullptr, body = nullptr;
  void* bodyData = nullptr;
  if (napi_create_object(env, &object) != napi_ok ||
      napi_create_double(env, static_cast<double>(pending.id), &id) != napi_ok ||
      napi_create_array_with_length(env, request.query.size(), &query) != napi_ok ||
      napi_create_object(env, &headers) != napi_ok ||
      napi_create_buffer_copy(env, request.body.size(), request.body.data(), &bodyData, &body) != napi_ok) {
    return nullptr;
  }
  for (size_t i = 0; i < request.query.size(); i++) {
    napi_value pair = nullptr;
    if (napi_create_array_with_length(env, 2, &pair) != napi_ok ||
        napi_set_element(env, pair, 0, MakeString(env, request.query[i].first)) != napi_ok ||
        napi_set_element(env, pair, 1, MakeString(env, request.query[i].second)) != napi_ok ||
        napi_set_element(env, query, static_cast<uint32_t>(i), pair) != napi_ok) {
      return nullptr;
    }
  }
  for (const auto& header : request.headers) {
    if (!SetNamed(env, headers, header.first.c_str(), MakeString(env, header.second))) {
      return nullptr;
    }
  }
  const bool complete = SetNamed(env, object, "id", id) &&
                        SetNamed(env, object, "channel", MakeString(env, request.channel)) &&
                        SetNamed(env, object, "method", MakeString(env, request.method)) &&
                        SetNamed(env, object, "url", MakeString(env, request.url)) &&
                        SetNamed(env, object, "ip", MakeString(env, request.ip)) &&
                        SetNamed(env, object, "query", query) && SetNamed(env, object, "headers", headers) &&
                        SetNamed(env, object, "body", body);
  return complete ? object : nullptr;
}

// Calls `handler` with `args`; false if it threw or JavaScript cannot run.
bool CallSafely(napi_env env, napi_value handler, size_t argc, const napi_value* args) {
  napi_value global = nullptr, result = nullptr;
  if (napi_get_global(env, &global) != napi_ok) {
    return false;
  }
  if (napi_call_function(env, global, handler, argc, args, &result) == napi_ok) {
    return true;
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value exception = nullptr;
    napi_get_and_clear_last_exception(env, &exception);
  }
  return false;
}

void CallRequestHandler(napi_env env, napi_value handler, void*, void* data) {
  std::unique_ptr<RequestBridge::PendingPtr> owned(static_cast<RequestBridge::PendingPtr*>(data));
  const RequestBridge::PendingPtr& pending = *owned;
  if (env == nullptr) {
    return;  // the environment is going away; Detach answers the request
  }
  if (pending->probe) {
    RequestBridge::Instance().Answer(pending->id, BridgeAnswer());
    return;
  }
  if (!RequestBridge::Instance().Accepting()) {
    return;  // this environment is going away: the next one gets the request
  }
  pending->delivered = true;
  napi_value request = MakeRequestObject(env, *pending);
  if (request == nullptr || !CallSafely(env, handler, 1, &request)) {
    RequestBridge::Instance().Fail(pending->id);
  }
}

void CallChangeHandler(napi_env env, napi_value handler, void*, void* data) {
  std::unique_ptr<ChangeEvent> event(static_cast<ChangeEvent*>(data));
  if (env == nullptr) {
    return;
  }
  napi_value args[3] = {nullptr, nullptr, nullptr};
  if (napi_create_int32(env, event->changeType, &args[0]) != napi_ok ||
      napi_create_int32(env, event->resourceType, &args[1]) != napi_ok ||
      (args[2] = MakeString(env, event->resourceId)) == nullptr || !CallSafely(env, handler, 3, args)) {
    Log(LogLevel::Warning, "a change event could not reach JavaScript");
  }
}

napi_threadsafe_function MakeThreadsafe(const Napi::CallbackInfo& info, const char* name,
                                        napi_threadsafe_function_call_js call) {
  napi_threadsafe_function tsfn = nullptr;
  napi_status status = napi_create_threadsafe_function(info.Env(), info[0], nullptr,
                                                       Napi::String::New(info.Env(), name), 0, 1, nullptr,
                                                       nullptr, nullptr, call, &tsfn);
  if (status != napi_ok) {
    throw Napi::Error::New(info.Env(), "cannot create a thread-safe function");
  }
  return tsfn;
}

// setRequestHandler(handler, [timeout, unavailable, failed] answers)
void SetRequestHandler(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsArray()) {
    throw Napi::TypeError::New(info.Env(), "setRequestHandler(handler: Function, cannedAnswers: Answer[])");
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<BridgeAnswer> canned;
  for (uint32_t i = 0; i < list.Length() && i < kCannedAnswerCount; i++) {
    Napi::Object item = list.Get(i).As<Napi::Object>();
    canned.push_back(ToAnswer(item.Get("status"), item.Get("headers"), item.Get("body")));
  }
  RequestBridge::Instance().Attach(MakeThreadsafe(info, "orthanc-fhir-request", CallRequestHandler),
                                   std::move(canned));
  NodeRuntime::Instance().ReportAttached();
}

// answer(id, status, headers, body) -> whether somebody still waited
Napi::Value Answer(const Napi::CallbackInfo& info) {
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "answer(id: number, status: number, headers: object, body)");
  }
  const auto id = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  return Napi::Boolean::New(info.Env(), RequestBridge::Instance().Answer(id, ToAnswer(info[1], info[2], info[3])));
}

void SetChangeHandler(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "setChangeHandler(handler: Function)");
  }
  napi_threadsafe_function tsfn = MakeThreadsafe(info, "orthanc-fhir-change", CallChangeHandler);
  // Change events must not keep the loop alive on their own.
  napi_unref_threadsafe_function(info.Env(), tsfn);
  std::lock_guard<std::mutex> lock(g_changeMutex);
  g_changeHandler = tsfn;
}

Napi::Value Configuration(const Napi::CallbackInfo& info) {
  char* text = OrthancPluginGetConfiguration(Context());
  if (text == nullptr) {
    throw Napi::Error::New(info.Env(), "cannot read Orthanc's configuration");
  }
  Napi::String result = Napi::String::New(info.Env(), text);
  OrthancPluginFreeString(Context(), text);
  return result;
}

void LogMessage(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "log(level: 0|1|2, message: string)");
  }
  const int level = info[0].As<Napi::Number>().Int32Value();
  Log(level <= 0 ? LogLevel::Error : level == 1 ? LogLevel::Warning : LogLevel::Info,
      info[1].ToString().Utf8Value());
}

// extendOrthancExplorer(javascript): added to Orthanc Explorer. Orthanc takes
// it only while the plugin initializes; later calls (a recreated
// environment) are ignored.
void ExtendOrthancExplorer(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(info.Env(), "extendOrthancExplorer(javascript: string)");
  }
  if (NodeRuntime::Instance().Initializing() && Context() != nullptr) {
    OrthancPluginExtendOrthancExplorer(Context(), info[0].As<Napi::String>().Utf8Value().c_str());
  }
}

// fatal(message): start-up failed for good (bad configuration, say).
void Fatal(const Napi::CallbackInfo& info) {
  NodeRuntime::Instance().ReportFatal(info.Length() > 0 ? info[0].ToString().Utf8Value() : "fatal error");
}

// The configuration file or folder Orthanc was started with: relative paths
// in the configuration are relative to it.
std::string ConfigurationPath() {
  char* path = Context() != nullptr ? OrthancPluginGetConfigurationPath(Context()) : nullptr;
  if (path == nullptr) {
    return "";
  }
  std::string result = path;
  OrthancPluginFreeString(Context(), path);
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bundlePath", NodeRuntime::Instance().BundlePath());
  exports.Set("configurationPath", ConfigurationPath());
  exports.Set("libraryDirectory", LibraryDirectory());
  // A function: the shim registers the worklist callback after JavaScript has started.
  exports.Set("worklistRegistered", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), WorklistRegistered());
  }));
  exports.Set("orthancVersion", Context() != nullptr ? Context()->orthancVersion : "");
  exports.Set("configuration", Napi::Function::New(env, Configuration));
  exports.Set("log", Napi::Function::New(env, LogMessage));
  exports.Set("restApi", Napi::Function::New(env, CallRestApi));
  exports.Set("setRequestHandler", Napi::Function::New(env, SetRequestHandler));
  exports.Set("answer", Napi::Function::New(env, Answer));
  exports.Set("setChangeHandler", Napi::Function::New(env, SetChangeHandler));
  exports.Set("fatal", Napi::Function::New(env, Fatal));
  exports.Set("extendOrthancExplorer", Napi::Function::New(env, ExtendOrthancExplorer));
  return exports;
}

}  // namespace

napi_value InitBinding(napi_env env, napi_value exports) {
  return Napi::RegisterModule(env, exports, Init);
}

void RelayChange(int32_t changeType, int32_t resourceType, const char* resourceId) {
  std::lock_guard<std::mutex> lock(g_changeMutex);
  if (g_changeHandler == nullptr) {
    return;
  }
  auto* event = new ChangeEvent{changeType, resourceType, resourceId != nullptr ? resourceId : ""};
  if (napi_call_threadsafe_function(g_changeHandler, event, napi_tsfn_nonblocking) != napi_ok) {
    delete event;
  }
}

void DetachBinding(CannedAnswer inFlight) {
  RequestBridge::Instance().Detach(inFlight);
  std::lock_guard<std::mutex> lock(g_changeMutex);
  g_changeHandler = nullptr;  // released with the environment
}

}  // namespace orthanc_fhir
