// FHIR-side helpers for integration tests: a fhir-kit-client per server and
// assertions on OperationOutcome answers.
import { expect } from 'chai';
import Client from 'fhir-kit-client';

export function fhirClient(baseUrl: string, bearerToken?: string): Client {
  return new Client({ baseUrl, ...(bearerToken ? { bearerToken } : {}) });
}

interface ResponseError {
  response?: { status?: number; data?: unknown };
}

/** Awaits a fhir-kit-client call that must fail, and returns its status and body. */
export async function failure(call: Promise<unknown>): Promise<{ status: number; data: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    const response = (error as ResponseError).response;
    if (response?.status === undefined) throw error;
    const data = typeof response.data === 'string' && response.data !== '' ? JSON.parse(response.data) : response.data;
    return { status: response.status, data: (data ?? {}) as Record<string, unknown> };
  }
  throw new Error('the call succeeded but was expected to fail');
}

export function expectOutcome(data: unknown, code?: string): void {
  const resource = data as { resourceType?: string; issue?: Array<{ code: string; severity: string }> };
  expect(resource.resourceType).to.equal('OperationOutcome');
  expect(resource.issue).to.be.an('array').that.is.not.empty;
  if (code) expect(resource.issue!.map((issue) => issue.code)).to.include(code);
}
