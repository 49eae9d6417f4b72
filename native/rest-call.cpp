#include "rest-call.h"

#include "napi-values.h"
#include "plugin-context.h"

#include <memory>
#include <vector>

namespace orthanc_fhir {

namespace {

bool ParseMethod(const std::string& name, OrthancPluginHttpMethod& method) {
  if (name == "GET") method = OrthancPluginHttpMethod_Get;
  else if (name == "POST") method = OrthancPluginHttpMethod_Post;
  else if (name == "PUT") method = OrthancPluginHttpMethod_Put;
  else if (name == "DELETE") method = OrthancPluginHttpMethod_Delete;
  else return false;
  return true;
}

std::string TakeBuffer(OrthancPluginContext* context, OrthancPluginMemoryBuffer& buffer) {
  std::string content;
  if (buffer.data != nullptr) {
    content.assign(static_cast<const char*>(buffer.data), buffer.size);
    OrthancPluginFreeMemoryBuffer(context, &buffer);
  }
  return content;
}

// One call in flight. Plain N-API async work rather than Napi::AsyncWorker:
// the completion may run while the environment is being terminated, where
// node-addon-api's exceptions would abort the process.
struct RestCall {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  OrthancPluginHttpMethod method = OrthancPluginHttpMethod_Get;
  std::string uri;
  HeaderList headers;
  std::string body;
  uint16_t status = 0;
  OrthancPluginErrorCode error = OrthancPluginErrorCode_Success;
  std::string errorText;
  std::string answer;
  std::string answerHeaders;
};

void Execute(napi_env, void* data) {
  auto* call = static_cast<RestCall*>(data);
  OrthancPluginContext* context = Context();
  if (context == nullptr) {
    call->error = OrthancPluginErrorCode_InternalError;
    call->errorText = "Orthanc is not running";
    return;
  }
  std::vector<const char*> keys, values;
  for (const auto& header : call->headers) {
    keys.push_back(header.first.c_str());
    values.push_back(header.second.c_str());
  }
  OrthancPluginMemoryBuffer answer{}, answerHeaders{};
  call->error = OrthancPluginCallRestApi(context, &answer, &answerHeaders, &call->status, call->method,
                                         call->uri.c_str(), static_cast<uint32_t>(keys.size()), keys.data(),
                                         values.data(), call->body.data(), static_cast<uint32_t>(call->body.size()),
                                         1 /* after plugins: reach DICOMweb and others */);
  call->answer = TakeBuffer(context, answer);
  call->answerHeaders = TakeBuffer(context, answerHeaders);
  if (call->error != OrthancPluginErrorCode_Success) {
    call->errorText = OrthancPluginGetErrorDescription(context, call->error);
  }
}

void Complete(napi_env env, napi_status, void* data) {
  std::unique_ptr<RestCall> call(static_cast<RestCall*>(data));
  napi_value result = nullptr, body = nullptr;
  void* bodyData = nullptr;
  if (napi_create_object(env, &result) == napi_ok &&
      napi_create_buffer_copy(env, call->answer.size(), call->answer.data(), &bodyData, &body) == napi_ok &&
      napi_set_named_property(env, result, "status", MakeNumber(env, call->status)) == napi_ok &&
      napi_set_named_property(env, result, "headers", MakeString(env, call->answerHeaders.empty() ? "{}" : call->answerHeaders)) == napi_ok &&
      napi_set_named_property(env, result, "body", body) == napi_ok) {
    if (call->error != OrthancPluginErrorCode_Success) {
      napi_value error = nullptr;
      if (napi_create_object(env, &error) == napi_ok) {
        napi_set_named_property(env, error, "code", MakeNumber(env, call->error));
        napi_set_named_property(env, error, "description", MakeString(env, call->errorText));
        napi_set_named_property(env, result, "error", error);
      }
    }
    napi_resolve_deferred(env, call->deferred, result);
  }
  napi_delete_async_work(env, call->work);
}

}  // namespace

Napi::Value CallRestApi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto call = std::make_unique<RestCall>();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString() ||
      !ParseMethod(info[0].As<Napi::String>(), call->method)) {
    throw Napi::TypeError::New(env, "restApi(method: GET|POST|PUT|DELETE, uri: string, headers?, body?)");
  }
  call->uri = info[1].As<Napi::String>();
  if (info.Length() > 2) {
    call->headers = ToHeaderList(info[2]);
  }
  if (info.Length() > 3) {
    call->body = ToBody(info[3]);
  }
  napi_value promise = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &call->deferred, &promise), Napi::Value());
  NAPI_THROW_IF_FAILED(env,
                       napi_create_async_work(env, nullptr, MakeString(env, "orthanc-rest"), Execute, Complete,
                                              call.get(), &call->work),
                       Napi::Value());
  NAPI_THROW_IF_FAILED(env, napi_queue_async_work(env, call->work), Napi::Value());
  call.release();  // owned by Complete from now on
  return Napi::Value(env, promise);
}

}  // namespace orthanc_fhir
