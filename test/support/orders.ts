// Orders as a RIS writes them (../shared/orders-interface.md): Patient,
// ServiceRequest (accession number, procedure code) and Task (scheduled step).
import { randomUUID } from 'node:crypto';

type Json = Record<string, any>;

export const ACSN_TYPE = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] };
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

export function patient(patientId: string, family = 'Doe', given = 'Jane'): Json {
  return {
    resourceType: 'Patient',
    identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, value: patientId }],
    name: [{ family, given: [given] }],
    gender: 'female',
    birthDate: '1970-01-01',
  };
}

export function serviceRequest(subject: string, accession: string, extra: Json = {}): Json {
  return structuredClone({
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    subject: { reference: subject },
    code: { concept: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }], text: 'CT chest' } },
    identifier: [{ type: ACSN_TYPE, system: 'urn:oid:2.25.42', value: accession }],
    authoredOn: '2030-05-01T08:00:00Z',
    occurrenceDateTime: '2030-06-01T09:30:00Z',
    ...extra,
  });
}

export function task(basedOn: string, subject: string, extra: Json = {}): Json {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    basedOn: [{ reference: basedOn }],
    for: { reference: subject },
    authoredOn: '2030-05-01T08:00:00Z',
    requestedPeriod: { start: '2030-06-01T09:30:00Z' },
    owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' }, display: 'CT01' },
    input: [{
      type: { coding: [{ system: DCM, code: '121139' }] },
      valueCodeableConcept: { coding: [{ system: DCM, code: 'CT' }] },
    }],
    ...extra,
  };
}

/** A RIS's usual transaction: Patient + ServiceRequest + Task, linked by urn:uuid. */
export function orderTransaction(patientId: string, accession: string): Json {
  const p = `urn:uuid:${randomUUID()}`;
  const sr = `urn:uuid:${randomUUID()}`;
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: p, resource: patient(patientId), request: { method: 'POST', url: 'Patient' } },
      { fullUrl: sr, resource: serviceRequest(p, accession), request: { method: 'POST', url: 'ServiceRequest' } },
      { resource: task(sr, p), request: { method: 'POST', url: 'Task' } },
    ],
  };
}
