// The whole native surface of the shim (native/exports.cpp), typed. Nothing
// else in src/ touches process._linkedBinding.

/** A request as Orthanc handed it to the shim. */
export interface NativeRequest {
  id: number;
  /**
   * 'http' for /fhir requests; 'worklist' for a modality worklist C-FIND
   * (body: the query as DICOM JSON); 'filter' for Orthanc's incoming HTTP
   * request filter (authorization on): answer 200 to allow, anything else refuses (403).
   */
  channel: 'http' | 'worklist' | 'filter';
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The path Orthanc matched, starting with /fhir. */
  url: string;
  /** Query arguments (Orthanc passes them for GET only). */
  query: Array<[string, string]>;
  /** Header names are lower-cased. */
  headers: Record<string, string>;
  body: Buffer;
  /** The client's address (the filter only; empty otherwise). */
  ip: string;
}

export interface NativeAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface NativeRestResult {
  status: number;
  /** JSON object of the answer's headers. */
  headers: string;
  body: Buffer;
  /** Set when Orthanc reported an error instead of (or besides) a status. */
  error?: { code: number; description: string };
}

export const enum LogLevel {
  Error = 0,
  Warning = 1,
  Info = 2,
}

export interface NativeBinding {
  readonly bundlePath: string;
  readonly orthancVersion: string;
  /** The folder of libOrthancFhir.so, where native addons are deployed beside it. */
  readonly libraryDirectory: string;
  /** The configuration file or folder Orthanc was started with. */
  readonly configurationPath: string;
  /**
   * Whether Orthanc accepted this plugin's worklist callback ("Fhir.Worklist.Enable"): a function, as the
   * shim registers it only once the bundle has started.
   */
  worklistRegistered(): boolean;
  /** Orthanc's whole configuration, as JSON text. */
  configuration(): string;
  log(level: LogLevel, message: string): void;
  restApi(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    uri: string,
    headers?: Record<string, string>,
    body?: string | Buffer,
  ): Promise<NativeRestResult>;
  /**
   * Registers the request handler, with the answers the shim gives on its own:
   * [timed out, unavailable, handler failed].
   */
  setRequestHandler(handler: (request: NativeRequest) => void, canned: [NativeAnswer, NativeAnswer, NativeAnswer]): void;
  /** Answers request `id`; false when nobody waits for it any more. */
  answer(id: number, status: number, headers: Record<string, string>, body: string | Buffer): boolean;
  setChangeHandler(handler: (changeType: number, resourceType: number, resourceId: string) => void): void;
  /** Adds JavaScript to Orthanc Explorer (taken only during start-up). */
  extendOrthancExplorer(javascript: string): void;
  /** Start-up failed for good: Orthanc's plugin initialization fails with this message. */
  fatal(message: string): void;
}

interface ProcessWithLinkedBinding {
  _linkedBinding(name: string): unknown;
}

export function loadBinding(): NativeBinding {
  return (process as unknown as ProcessWithLinkedBinding)._linkedBinding('orthanc') as NativeBinding;
}
