// The R5 shapes the imaging mappers produce, beyond the shared minimal ones
// in src/fhir/types.ts. Kept local so that the shared file stays small; only
// the elements the mappers fill in are declared.
import type { CodeableConcept, Coding, Identifier, Meta, Reference, Resource } from '../../fhir/types';

export interface Extension {
  url: string;
  valueCode?: string;
  valueString?: string;
}

/** An Identifier with the assigner element, which src/fhir/types.ts leaves out. */
export interface AssignedIdentifier extends Identifier {
  assigner?: Reference;
}

export interface HumanName {
  extension?: Extension[];
  use?: 'usual' | 'official' | 'temp' | 'nickname' | 'anonymous' | 'old' | 'maiden';
  text?: string;
  family?: string;
  given?: string[];
  prefix?: string[];
  suffix?: string[];
}

export type AdministrativeGender = 'male' | 'female' | 'other' | 'unknown';

export interface PatientResource extends Resource {
  resourceType: 'Patient';
  id: string;
  meta?: Meta;
  identifier?: AssignedIdentifier[];
  name?: HumanName[];
  gender?: AdministrativeGender;
  birthDate?: string;
}

/** R5 CodeableReference: a concept, a reference, or both. */
export interface CodeableReference {
  concept?: CodeableConcept;
  reference?: Reference;
}

export interface ImagingStudyInstance {
  uid: string;
  sopClass: Coding;
  number?: number;
  title?: string;
}

export interface ImagingStudySeries {
  uid: string;
  number?: number;
  modality: CodeableConcept;
  description?: string;
  numberOfInstances?: number;
  endpoint?: Reference[];
  bodySite?: CodeableReference;
  laterality?: CodeableConcept;
  started?: string;
  instance?: ImagingStudyInstance[];
}

export type ImagingStudyStatus = 'registered' | 'available' | 'cancelled' | 'entered-in-error' | 'unknown';

export interface ImagingStudyResource extends Resource {
  resourceType: 'ImagingStudy';
  id: string;
  meta?: Meta;
  identifier?: Identifier[];
  status: ImagingStudyStatus;
  modality?: CodeableConcept[];
  subject: Reference;
  started?: string;
  basedOn?: Reference[];
  referrer?: Reference;
  endpoint?: Reference[];
  numberOfSeries?: number;
  numberOfInstances?: number;
  procedure?: CodeableReference[];
  description?: string;
  series?: ImagingStudySeries[];
}

export interface EndpointPayload {
  type?: CodeableConcept[];
  mimeType?: string[];
}

export type EndpointStatus = 'active' | 'limited' | 'suspended' | 'error' | 'off' | 'entered-in-error';

export interface EndpointResource extends Resource {
  resourceType: 'Endpoint';
  id: string;
  meta?: Meta;
  status: EndpointStatus;
  connectionType: CodeableConcept[];
  name?: string;
  description?: string;
  payload?: EndpointPayload[];
  address: string;
}
