#include "http-filter.h"

#include "plugin-context.h"
#include "request-bridge.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace orthanc_fhir {

namespace {

std::chrono::milliseconds g_timeout{30000};

// The plugin's own routes authenticate the request themselves (they can
// answer 401 with a challenge; this filter can only refuse with 403), so
// they are let through without a round trip. Only a plain path counts:
// a dot segment or an escape goes to JavaScript like any other request.
bool OwnRoute(const char* uri) {
  const std::string path = uri;
  if (path != "/fhir" && path.compare(0, 6, "/fhir/") != 0) {
    return false;
  }
  if (path.find_first_of("%\\") != std::string::npos) {
    return false;
  }
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

int32_t Filter(OrthancPluginHttpMethod method, const char* uri, const char* ip, uint32_t headersCount,
               const char* const* headersKeys, const char* const* headersValues, uint32_t getArgumentsCount,
               const char* const* getArgumentsKeys, const char* const* getArgumentsValues) {
  // Refused when anything goes wrong: the filter fails closed.
  return Firewall("filtering an HTTP request", 0, [&]() -> int32_t {
    if (uri == nullptr) {
      return 0;
    }
    // Orthanc has already turned GET ?_method=DELETE into a DELETE: a link
    // in any web page could then write with a browser's cached login.
    for (uint32_t i = 0; i < getArgumentsCount; i++) {
      if (std::strcmp(getArgumentsKeys[i], "_method") == 0) {
        return 0;
      }
    }
    if (OwnRoute(uri)) {
      return 1;
    }
    BridgeRequest request;
    request.channel = "filter";
    request.method = MethodName(method);
    request.url = uri;
    request.ip = ip != nullptr ? ip : "";
    for (uint32_t i = 0; i < headersCount; i++) {
      std::string key = headersKeys[i];
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
      request.headers.emplace_back(std::move(key), headersValues[i]);
    }
    for (uint32_t i = 0; i < getArgumentsCount; i++) {
      request.query.emplace_back(getArgumentsKeys[i], getArgumentsValues[i]);
    }
    const BridgeAnswer answer = RequestBridge::Instance().Handle(std::move(request), g_timeout);
    return answer.status == 200 ? 1 : 0;
  });
}

}  // namespace

void RegisterHttpFilter(OrthancPluginContext* context, std::chrono::milliseconds timeout) {
  g_timeout = timeout;
  OrthancPluginRegisterIncomingHttpRequestFilter2(context, Filter);
}

}  // namespace orthanc_fhir
