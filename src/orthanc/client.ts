// Orthanc's REST API, called in process through the shim (no HTTP loopback).
// Reaches other plugins' routes too, such as DICOMweb's.
import type { NativeBinding, NativeRestResult } from '../native';

export class OrthancError extends Error {
  constructor(
    readonly status: number,
    readonly uri: string,
    detail: string,
  ) {
    super(`Orthanc answered ${status} to ${uri}: ${detail}`);
    this.name = 'OrthancError';
  }
}

export interface RestAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export class OrthancClient {
  constructor(private readonly native: NativeBinding) {}

  async call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    uri: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<RestAnswer> {
    const result: NativeRestResult = await this.native.restApi(method, uri, headers, body);
    return {
      status: result.status !== 0 ? result.status : statusOfError(result),
      headers: JSON.parse(result.headers) as Record<string, string>,
      body: result.body,
    };
  }

  /** GET and parse JSON; undefined for a 404. */
  async getJson<T>(uri: string): Promise<T | undefined> {
    const answer = await this.call('GET', uri);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new OrthancError(answer.status, uri, answer.body.toString('utf8'));
    return JSON.parse(answer.body.toString('utf8')) as T;
  }

  async postJson<T>(uri: string, body: unknown): Promise<T> {
    const answer = await this.call('POST', uri, JSON.stringify(body), { 'content-type': 'application/json' });
    if (answer.status !== 200) throw new OrthancError(answer.status, uri, answer.body.toString('utf8'));
    return JSON.parse(answer.body.toString('utf8')) as T;
  }
}

function statusOfError(result: NativeRestResult): number {
  // Orthanc's error codes that mean "no such resource" vs. everything else.
  const UNKNOWN_RESOURCE = 17;
  const INEXISTENT_ITEM = 7;
  if (result.error?.code === UNKNOWN_RESOURCE || result.error?.code === INEXISTENT_ITEM) return 404;
  return 500;
}
