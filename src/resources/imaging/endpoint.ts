// The FHIR R5 Endpoint describing this Orthanc's DICOMweb service, which
// ImagingStudy.endpoint points at so that clients can fetch the images.
//
// - Address: the DICOMweb service base, "without any parameters, or
//   sub-services or resources tacked on" (Endpoint.address in R5), i.e. the
//   URL a client appends "/studies/{uid}" to; no trailing slash.
// - Id: a fixed "dicomweb". There is one such service per server, so a
//   stable id keeps every ImagingStudy's reference valid across restarts and
//   when the public URL changes (the Endpoint's address changes, the
//   references do not). A hash of the address would break them.
// - connectionType: dicom-wado-rs (R5 makes it a CodeableConcept list); the
//   same base also serves QIDO-RS and STOW-RS in Orthanc's DICOMweb plugin,
//   which a caller may add.
// - payload: type "any" of the endpoint-payload-type code system (DICOM has
//   no code there) with the media types the DICOMweb plugin 1.7 answers
//   (checked: application/dicom, application/dicom+json, application/dicom+xml).
import type { CodeableConcept, Reference } from '../../fhir/types';
import type { EndpointResource } from './fhir-r5';

export const DICOMWEB_ENDPOINT_ID = 'dicomweb';
export const ENDPOINT_CONNECTION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type';
export const ENDPOINT_PAYLOAD_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type';

export type DicomWebConnectionType = 'dicom-wado-rs' | 'dicom-qido-rs' | 'dicom-stow-rs' | 'dicom-wado-uri';

const CONNECTION_TYPE_DISPLAY: Readonly<Record<DicomWebConnectionType, string>> = {
  'dicom-wado-rs': 'DICOM WADO-RS',
  'dicom-qido-rs': 'DICOM QIDO-RS',
  'dicom-stow-rs': 'DICOM STOW-RS',
  'dicom-wado-uri': 'DICOM WADO-URI',
};

export const DEFAULT_DICOMWEB_MIME_TYPES: readonly string[] = [
  'application/dicom',
  'application/dicom+json',
  'application/dicom+xml',
];

export interface DicomWebEndpointOptions {
  /** The service base URL, e.g. from dicomWebAddress(); a trailing slash is removed. */
  address: string;
  /** Default DICOMWEB_ENDPOINT_ID. */
  id?: string;
  /** Default "Orthanc DICOMweb". */
  name?: string;
  /** Default ['dicom-wado-rs']. */
  connectionTypes?: readonly DicomWebConnectionType[];
  /** Default DEFAULT_DICOMWEB_MIME_TYPES. */
  mimeTypes?: readonly string[];
  /** meta.lastUpdated, an instant: when this description took effect. */
  lastUpdated?: string;
}

/**
 * The DICOMweb service base from the server's public base URL (which may
 * carry a reverse-proxy path prefix) and the DICOMweb plugin's root
 * (its "Root" setting, "/dicom-web/" by default). Throws a RangeError for a
 * base that is not an absolute http(s) URL without query or fragment: that
 * is a configuration error, better caught at start-up.
 */
export function dicomWebAddress(publicBaseUrl: string, dicomWebRoot = '/dicom-web/'): string {
  let url: URL;
  try {
    url = new URL(publicBaseUrl.trim());
  } catch {
    throw new RangeError(`DICOMweb base "${publicBaseUrl}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError(`DICOMweb base "${publicBaseUrl}" is not an http(s) URL`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new RangeError(`DICOMweb base "${publicBaseUrl}" must not have a query or fragment`);
  }
  const base = `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  const root = dicomWebRoot.trim().replace(/^\/+|\/+$/g, '');
  return root === '' ? base : `${base}/${root}`;
}

export function buildDicomWebEndpoint(options: DicomWebEndpointOptions): EndpointResource {
  const address = options.address.trim().replace(/\/+$/, '');
  if (address === '') throw new RangeError('DICOMweb endpoint address is empty');
  const connectionTypes = options.connectionTypes ?? ['dicom-wado-rs'];
  if (connectionTypes.length === 0) throw new RangeError('DICOMweb endpoint needs at least one connection type');
  const mimeTypes = options.mimeTypes ?? DEFAULT_DICOMWEB_MIME_TYPES;
  const anyPayload: CodeableConcept = {
    coding: [{ system: ENDPOINT_PAYLOAD_TYPE_SYSTEM, code: 'any', display: 'Any' }],
  };
  return {
    resourceType: 'Endpoint',
    id: options.id ?? DICOMWEB_ENDPOINT_ID,
    ...(options.lastUpdated !== undefined ? { meta: { lastUpdated: options.lastUpdated } } : {}),
    status: 'active',
    connectionType: connectionTypes.map((code) => ({
      coding: [{ system: ENDPOINT_CONNECTION_TYPE_SYSTEM, code, display: CONNECTION_TYPE_DISPLAY[code] }],
    })),
    name: options.name ?? 'Orthanc DICOMweb',
    payload: [mimeTypes.length > 0 ? { type: [anyPayload], mimeType: [...mimeTypes] } : { type: [anyPayload] }],
    address,
  };
}

/** The Reference that ImagingStudy.endpoint uses for an Endpoint. */
export function endpointReference(endpoint: Pick<EndpointResource, 'id'>): Reference {
  return { reference: `Endpoint/${endpoint.id}` };
}
