// node.h first: it fixes NAPI_VERSION before node_api.h would default it.
#include <node.h>

#include "node-runtime.h"

#include "binding.h"
#include "plugin-context.h"
#include "request-bridge.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace orthanc_fhir {

namespace {

// Loads the bundle that sits beside the shared library. `require` given to
// this script only reaches built-in modules, hence createRequire.
const char kBootstrap[] =
    "const binding = process._linkedBinding('orthanc');\n"
    "try {\n"
    "  require('module').createRequire(binding.bundlePath)(binding.bundlePath);\n"
    "} catch (error) {\n"
    "  binding.fatal(`cannot load ${binding.bundlePath}: ${(error && error.stack) || error}`);\n"
    "}\n";

// Process-wide state, created once and kept for the life of the process
// (the library is linked with -z nodelete so it survives /tools/reset).
std::unique_ptr<node::MultiIsolatePlatform> g_platform;
std::unique_ptr<node::InitializationResult> g_initialization;

std::string InitializeProcessOnce() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    // Orthanc loads plugins RTLD_LOCAL; native addons that JavaScript loads
    // need libnode's napi_* symbols in the global scope.
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&node::SpinEventLoop), &info) != 0 && info.dli_fname != nullptr) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    }
    using namespace node::ProcessFlags;
    // Leave Orthanc's signals, stdio, resource limits and command line alone.
    const auto flags = static_cast<Flags>(
        kNoStdioInitialization | kNoDefaultSignalHandling | kDisableNodeOptionsEnv | kDisableCLIOptions |
        kNoInitializeV8 | kNoInitializeNodeV8Platform | kNoParseGlobalDebugVariables | kNoInitOpenSSL |
        kNoAdjustResourceLimits | kNoUseLargePages | kNoPrintHelpOrVersionOutput);
    g_initialization = node::InitializeOncePerProcess({"orthanc-fhir"}, flags);
    if (g_initialization->early_return() || g_initialization->exit_code() != 0) {
      error = "Node.js refused to initialize";
      for (const auto& message : g_initialization->errors()) {
        error += ": " + message;
      }
      return;
    }
    g_platform = node::MultiIsolatePlatform::Create(2);
    v8::V8::InitializePlatform(g_platform.get());
    v8::V8::Initialize();
  });
  return error;
}

constexpr size_t kMiB = 1024 * 1024;

// One environment's watch over its JavaScript heap, on RunEnvironment's stack.
struct HeapWatch {
  node::Environment* env = nullptr;  // cleared before the environment is freed
  bool exhausted = false;
};

// V8 calls this on the Node thread, inside a garbage collection, instead of
// aborting the whole process with "Reached heap limit". No JavaScript may
// run here, and mutex_ is not taken: this thread may already hold it. So it
// only does what is safe from inside V8: node::Stop (TerminateExecution,
// then the loop ends, as after process.exit()) and the bridge's Suspend
// (whose lock is never held while JavaScript allocates).
size_t NearHeapLimit(void* data, size_t currentLimit, size_t initialLimit) {
  auto* watch = static_cast<HeapWatch*>(data);
  if (!watch->exhausted && watch->env != nullptr) {
    watch->exhausted = true;
    Log(LogLevel::Error, "JavaScript heap near its limit (" + std::to_string(initialLimit / kMiB) +
                             " MiB, Fhir.HeapLimit): restarting the environment");
    RequestBridge::Instance().Suspend();
    node::Stop(watch->env);
  }
  // Room for the allocation under way, the unwinding and the teardown.
  return currentLimit + std::max(currentLimit / 4, 64 * kMiB);
}

}  // namespace

NodeRuntime& NodeRuntime::Instance() {
  static NodeRuntime instance;
  return instance;
}

std::string NodeRuntime::Start(const std::string& bundlePath, size_t heapLimitMiB,
                               std::chrono::milliseconds startTimeout) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bundlePath_ = bundlePath;
    heapLimitMiB_ = heapLimitMiB;
    stopRequested_ = false;
    attached_ = false;
    threadExited_ = false;
    fatal_.clear();
  }
  RequestBridge::Instance().Reset();
  initializing_ = true;

  // Threads inherit the signal mask: Node's thread and every thread it makes
  // (platform workers, libuv's pool) leave all signals to Orthanc's threads.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this] { ThreadMain(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  std::unique_lock<std::mutex> lock(mutex_);
  const bool settled = changed_.wait_for(lock, startTimeout, [this] {
    return attached_ || !fatal_.empty() || threadExited_;
  });
  initializing_ = false;
  if (!fatal_.empty()) {
    return fatal_;
  }
  if (!settled) {
    return "the JavaScript bundle did not start within the start-up time-out";
  }
  if (!attached_) {
    return "the JavaScript bundle stopped before it registered its request handler";
  }
  return "";
}

void NodeRuntime::Stop(std::chrono::milliseconds joinTimeout) {
  RequestBridge::Instance().BeginShutdown();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopRequested_ = true;
    if (env_ != nullptr) {
      node::Stop(env_);  // also ends an endless loop (TerminateExecution)
    }
    changed_.notify_all();
  }
  if (!thread_.joinable()) {
    return;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (changed_.wait_for(lock, joinTimeout, [this] { return threadExited_; })) {
    lock.unlock();
    thread_.join();
  } else {
    lock.unlock();
    Log(LogLevel::Error, "the Node.js thread did not stop in time; leaving it behind");
    thread_.detach();
  }
}

void NodeRuntime::Recycle(const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (env_ != nullptr && !stopRequested_) {
    Log(LogLevel::Warning, "restarting the JavaScript environment: " + why);
    RequestBridge::Instance().Suspend();
    node::Stop(env_);
  }
}

void NodeRuntime::ReportAttached() {
  std::lock_guard<std::mutex> lock(mutex_);
  attached_ = true;
  changed_.notify_all();
}

void NodeRuntime::ReportFatal(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fatal_.empty()) {
    fatal_ = message;
  }
  stopRequested_ = true;  // a fatal error (bad configuration) is not retried
  if (env_ != nullptr) {
    node::Stop(env_);
  }
  changed_.notify_all();
}

using Clock = std::chrono::steady_clock;

long MillisecondsSince(Clock::time_point start) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

void NodeRuntime::ThreadMain() {
  const auto started = Clock::now();
  const std::string error = InitializeProcessOnce();
  Log(LogLevel::Info, "Node.js process-wide initialization: " + std::to_string(MillisecondsSince(started)) + " ms");
  if (!error.empty()) {
    ReportFatal(error);
  }
  auto backoff = std::chrono::milliseconds(0);
  while (error.empty()) {
    const auto lifeStarted = Clock::now();
    RunEnvironment();

    std::unique_lock<std::mutex> lock(mutex_);
    if (stopRequested_) {
      break;
    }
    // An environment that dies at once would otherwise spin: back off.
    const bool quick = Clock::now() - lifeStarted < std::chrono::seconds(2);
    backoff = quick ? std::min(std::max(backoff * 2, std::chrono::milliseconds(250)), std::chrono::milliseconds(30000))
                    : std::chrono::milliseconds(0);
    changed_.wait_for(lock, backoff, [this] { return stopRequested_; });
    if (stopRequested_) {
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  threadExited_ = true;
  changed_.notify_all();
}

void NodeRuntime::RunEnvironment() {
  using namespace node::EnvironmentFlags;
  // Not kOwnsProcessState: JavaScript may not chdir, umask or setuid Orthanc.
  const auto flags = static_cast<Flags>(kNoCreateInspector | kNoGlobalSearchPaths);
  const auto started = Clock::now();
  // V8 sizes the heap when it creates the isolate. Node 18's
  // CommonEnvironmentSetup takes no ResourceConstraints, hence the flag
  // (process-wide; set each time so that /tools/reset applies a new value).
  const std::string heapFlag = "--max-old-space-size=" + std::to_string(heapLimitMiB_);
  v8::V8::SetFlagsFromString(heapFlag.c_str(), heapFlag.size());
  std::vector<std::string> errors;
  std::unique_ptr<node::CommonEnvironmentSetup> setup = node::CommonEnvironmentSetup::Create(
      g_platform.get(), &errors, std::vector<std::string>{"orthanc-fhir"}, std::vector<std::string>{}, flags);
  if (!setup) {
    std::string message = "cannot create the JavaScript environment";
    for (const auto& e : errors) {
      message += ": " + e;
    }
    Log(LogLevel::Error, message);
    return;
  }

  v8::Isolate* isolate = setup->isolate();
  node::Environment* env = setup->env();
  HeapWatch heap;
  heap.env = env;
  isolate->AddNearHeapLimitCallback(NearHeapLimit, &heap);
  {
    v8::Locker locker(isolate);
    v8::Isolate::Scope isolateScope(isolate);
    v8::HandleScope handleScope(isolate);
    v8::Context::Scope contextScope(setup->context());

    node::AddLinkedBinding(env, "orthanc", InitBinding);
    // process.exit() and uncaught errors end this environment, never Orthanc.
    node::SetProcessExitHandler(env, [](node::Environment* exiting, int code) {
      Log(LogLevel::Warning, "JavaScript called process.exit(" + std::to_string(code) + ")");
      RequestBridge::Instance().Suspend();
      node::Stop(exiting);
    });
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopRequested_) {
        node::Stop(env);
      }
      env_ = env;
    }

    v8::HeapStatistics statistics;
    isolate->GetHeapStatistics(&statistics);
    Log(LogLevel::Info, "JavaScript environment created: " + std::to_string(MillisecondsSince(started)) +
                            " ms, heap limit " + std::to_string(statistics.heap_size_limit() / kMiB) + " MiB");
    const bool loaded = !node::LoadEnvironment(env, kBootstrap).IsEmpty();
    Log(LogLevel::Info, "JavaScript bundle loaded: " + std::to_string(MillisecondsSince(started)) + " ms");
    if (loaded) {
      node::SpinEventLoop(env).FromMaybe(1);
    }
    heap.env = nullptr;  // from here on the callback only grants room

    bool shuttingDown;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      env_ = nullptr;
      if (!attached_ && fatal_.empty()) {
        // The first environment of this plugin life never got going: no
        // point retrying what will fail the same way.
        fatal_ = "the JavaScript bundle " + bundlePath_ + " ended before it registered its request handler";
        if (heap.exhausted) {
          fatal_ += ": its heap outgrew Fhir.HeapLimit";
        }
        stopRequested_ = true;
        changed_.notify_all();
      }
      shuttingDown = stopRequested_;
    }
    // Requests in flight: 503 when stopping or out of memory (try again
    // later), 500 when the environment failed (process.exit()).
    DetachBinding(shuttingDown || heap.exhausted ? CannedAnswer::Unavailable : CannedAnswer::Failed);
    node::Stop(env);  // stops what is left (timers, handles) before teardown
  }
  setup.reset();
}

}  // namespace orthanc_fhir
