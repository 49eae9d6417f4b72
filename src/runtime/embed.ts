// Makes the embedded Node.js a good guest in Orthanc's process. Runs before
// any other code of the bundle.
import { format } from 'node:util';
import { Writable } from 'node:stream';
import { LogLevel, type NativeBinding } from '../native';

function logStream(native: NativeBinding, level: LogLevel): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      native.log(level, chunk.toString().replace(/\n$/, ''));
      callback();
    },
  });
}

export function installEmbeddingGuards(native: NativeBinding): void {
  // Writing to descriptors 1 and 2 from Node would make them non-blocking
  // for Orthanc too and break its own logging: everything goes to its log.
  const at = (level: LogLevel) => (...args: unknown[]) => native.log(level, format(...args));
  console.log = at(LogLevel.Info);
  console.info = at(LogLevel.Info);
  console.debug = at(LogLevel.Info);
  console.warn = at(LogLevel.Warning);
  console.error = at(LogLevel.Error);
  console.trace = (...args: unknown[]) => native.log(LogLevel.Info, `${format(...args)}\n${new Error().stack ?? ''}`);
  Object.defineProperty(process, 'stdout', { value: logStream(native, LogLevel.Info), configurable: true });
  Object.defineProperty(process, 'stderr', { value: logStream(native, LogLevel.Warning), configurable: true });

  // A listener for a signal would make Node take that signal from Orthanc
  // (process.on('SIGTERM') would stop Orthanc from shutting down): Node
  // starts listening through its own 'newListener' hook, removed here.
  process.removeAllListeners('newListener');
  process.removeAllListeners('removeListener');
  process.on('newListener', (event: string | symbol) => {
    if (typeof event === 'string' && event.startsWith('SIG')) {
      native.log(LogLevel.Warning, `ignored a listener for ${event}: signals belong to Orthanc`);
    }
  });

  process.abort = () => {
    throw new Error('process.abort() would kill Orthanc and is disabled');
  };

  // A stray error or rejection in a callback must not end the environment.
  process.on('uncaughtException', (error) => {
    native.log(LogLevel.Error, `uncaught exception: ${error?.stack ?? String(error)}`);
  });
  process.on('unhandledRejection', (reason) => {
    native.log(LogLevel.Error, `unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`);
  });
}
