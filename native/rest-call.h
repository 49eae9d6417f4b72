// An in-process call to Orthanc's REST API (including other plugins' routes,
// such as DICOMweb), run on libuv's thread pool so JavaScript never blocks.
#pragma once

#include "request-bridge.h"

#include <napi.h>

namespace orthanc_fhir {

// restApi(method, uri, headers, body?) -> Promise<{ status, headers, body, error? }>
Napi::Value CallRestApi(const Napi::CallbackInfo& info);

}  // namespace orthanc_fhir
