// A minimal N-API addon, loaded by the integration tests inside the embedded
// runtime (see binding.gyp). It returns the Node.js version it runs in.
#include <node_api.h>
#include <stdio.h>

static napi_value RuntimeVersion(napi_env env, napi_callback_info info) {
  const napi_node_version* version = NULL;
  napi_value result = NULL;
  char text[32];
  if (napi_get_node_version(env, &version) != napi_ok) {
    return NULL;
  }
  int length = snprintf(text, sizeof(text), "%u.%u.%u", version->major, version->minor, version->patch);
  napi_create_string_utf8(env, text, (size_t)length, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn = NULL;
  napi_create_function(env, "runtimeVersion", NAPI_AUTO_LENGTH, RuntimeVersion, NULL, &fn);
  napi_set_named_property(env, exports, "runtimeVersion", fn);
  return exports;
}
