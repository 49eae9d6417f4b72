// Awaits a call into the FHIR layer that must fail, and returns its
// OperationOutcomeError (anything else thrown is rethrown): unit tests
// without a server.
import { OperationOutcomeError } from '../../src/fhir/outcome';

export async function failureOf(promise: Promise<unknown>): Promise<OperationOutcomeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}
