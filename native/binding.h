// The linked binding that JavaScript reaches as process._linkedBinding('orthanc').
// exports.cpp lists every function it exposes; src/native.ts types them.
#pragma once

#include <node_api.h>

#include "request-bridge.h"

#include <cstdint>
#include <string>

namespace orthanc_fhir {

napi_value InitBinding(napi_env env, napi_value exports);

// Orthanc thread: forwards a change event to JavaScript, if it listens.
void RelayChange(int32_t changeType, int32_t resourceType, const char* resourceId);

// Node thread, environment about to go: no more calls into it; the requests
// it had received are answered with `inFlight`.
void DetachBinding(CannedAnswer inFlight);

}  // namespace orthanc_fhir
