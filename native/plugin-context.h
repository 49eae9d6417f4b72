// The Orthanc context of the current plugin life, and logging into Orthanc's
// log. Set in OrthancPluginInitialize, cleared in OrthancPluginFinalize.
#pragma once

#include <orthanc/OrthancCPlugin.h>

#include <dlfcn.h>

#include <atomic>
#include <string>

namespace orthanc_fhir {

inline std::atomic<OrthancPluginContext*>& ContextSlot() {
  static std::atomic<OrthancPluginContext*> context{nullptr};
  return context;
}

inline OrthancPluginContext* Context() { return ContextSlot().load(); }

enum class LogLevel { Error = 0, Warning = 1, Info = 2 };

inline void Log(LogLevel level, const std::string& message) {
  OrthancPluginContext* context = Context();
  if (context == nullptr) {
    return;
  }
  const std::string text = "FHIR: " + message;
  switch (level) {
    case LogLevel::Error: OrthancPluginLogError(context, text.c_str()); break;
    case LogLevel::Warning: OrthancPluginLogWarning(context, text.c_str()); break;
    default: OrthancPluginLogInfo(context, text.c_str()); break;
  }
}

// The one exception firewall of the C boundary: every entry point Orthanc
// calls runs its body through it, so nothing thrown ever reaches Orthanc.
template <typename Result, typename Body>
Result Firewall(const char* what, Result failed, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    Log(LogLevel::Error, std::string(what) + " failed: " + e.what());
  } catch (...) {
    Log(LogLevel::Error, std::string(what) + " failed");
  }
  return failed;
}

// The folder of this shared library: the JavaScript bundle and the addons it
// loads are deployed beside it.
inline const char* MethodName(OrthancPluginHttpMethod method) {
  switch (method) {
    case OrthancPluginHttpMethod_Get: return "GET";
    case OrthancPluginHttpMethod_Post: return "POST";
    case OrthancPluginHttpMethod_Put: return "PUT";
    case OrthancPluginHttpMethod_Delete: return "DELETE";
    default: return "UNKNOWN";
  }
}

inline std::string LibraryDirectory() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&ContextSlot), &info) == 0 || info.dli_fname == nullptr) {
    return ".";
  }
  std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace orthanc_fhir
