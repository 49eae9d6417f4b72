// Which resources belong to which patient (the Patient compartment of R5's
// CompartmentDefinition, for the types served here): how a search is
// narrowed to one patient, and how a resource read is checked against it.
// A type absent here holds no patient's data (the DICOMweb Endpoint).
import { reach, type Access, type Reach } from '../fhir/access';
import type { Reference, Resource } from '../fhir/types';

export interface CompartmentMembership {
  /** The search parameter that narrows a search of this type to one patient: value `Patient/{id}` (for Patient: `{id}`). */
  param: string;
  /** The ids of the Patients a resource of this type belongs to. */
  patientsOf(resource: Resource): string[];
}

/** 'Patient/abc', '.../fhir/Patient/abc' or '.../Patient/abc/_history/2' -> 'abc'. */
export function patientIdOfReference(reference: string | undefined): string | undefined {
  const match = reference === undefined ? null : /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]*)?$/.exec(reference);
  return match?.[1];
}

function referencedPatients(...references: unknown[]): string[] {
  return references.flatMap((value) => {
    const id = patientIdOfReference((value as Reference | undefined)?.reference);
    return id === undefined ? [] : [id];
  });
}

export const PATIENT_COMPARTMENT: Readonly<Record<string, CompartmentMembership>> = {
  Patient: { param: '_id', patientsOf: (resource) => (resource.id === undefined ? [] : [resource.id]) },
  ImagingStudy: { param: 'patient', patientsOf: (resource) => referencedPatients(resource.subject) },
  ServiceRequest: { param: 'patient', patientsOf: (resource) => referencedPatients(resource.subject) },
  Task: { param: 'patient', patientsOf: (resource) => referencedPatients(resource.for) },
  AuditEvent: { param: 'patient', patientsOf: (resource) => referencedPatients(resource.patient) },
};

/** Whether `resource` is in the compartment of Patient `patient` (always, for a type that holds no patient data). */
export function inCompartment(resource: Resource, patient: string): boolean {
  const membership = PATIENT_COMPARTMENT[resource.resourceType];
  return membership === undefined || membership.patientsOf(resource).includes(patient);
}

/** The query narrowing a search of `type` to `patient`; none for a type outside the compartment. */
export function compartmentFilter(type: string, patient: string): Array<[string, string]> {
  const membership = PATIENT_COMPARTMENT[type];
  if (membership === undefined) return [];
  return [[membership.param, membership.param === '_id' ? patient : `Patient/${patient}`]];
}

/** Whether `resource` may be answered under `found`, its type's reach for a token of patient context `patient`. */
export function withinReach(resource: Resource, found: Reach, patient: string | undefined): boolean {
  return found === 'all' || (found === 'compartment' && patient !== undefined && inCompartment(resource, patient));
}

/** Whether a token may read `resource` (read or search reaches it): what an include, or a notification, may carry. */
export function readableBy(access: Access, resource: Resource): boolean {
  return withinReach(resource, reach(access, resource.resourceType, 'r'), access.patient) ||
    withinReach(resource, reach(access, resource.resourceType, 's'), access.patient);
}
