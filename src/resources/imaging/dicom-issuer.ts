// The namespace of an identifier that DICOM qualifies with an issuer
// (IssuerOfPatientID (0010,0021) + IssuerOfPatientIDQualifiersSequence
// (0010,0024); IssuerOfAccessionNumberSequence (0008,0051)).
//
// Convention: an identifier's system is its namespace, so an identifier
// whose issuer is stated must not be put in the default namespace (two
// issuers may hand out the same number). The system is, in this order:
//   1. the caller's table entry for the issuer's local name
//      (e.g. { "HOSP-A": "http://hosp-a.example/mrn" });
//   2. the issuer's Universal Entity ID when its type says how to write it
//      as a URI (ISO -> urn:oid:, UUID -> urn:uuid:, URI -> itself);
//   3. the local name itself when it is an OID (urn:oid:) or an absolute URI;
//   4. otherwise no system: the namespace is unknown.
// The local name is always kept as assigner.display, so it is never lost.
// Without any issuer the caller's default system applies.
import type { Reference } from '../../fhir/types';
import type { OrthancTagItem } from './orthanc-types';
import { isAbsoluteUri, isOid, universalEntityIdToSystem } from './dicom-codes';
import { tagString } from './dicom-tags';

export interface IssuerNamespace {
  system?: string;
  assigner?: Reference;
}

export interface IssuerOptions {
  /** The system when no issuer is stated. */
  defaultSystem?: string;
  /** Issuer local name -> system, checked first. */
  issuerSystems?: Readonly<Record<string, string>>;
}

/**
 * @param localName the issuer's local name (IssuerOfPatientID, LocalNamespaceEntityID)
 * @param qualifiers an item with UniversalEntityID and UniversalEntityIDType, if any
 */
export function resolveIssuer(
  localName: string | undefined,
  qualifiers: OrthancTagItem | undefined,
  options: IssuerOptions = {},
): IssuerNamespace {
  const local = localName?.trim() || undefined;
  const universalId = tagString(qualifiers, 'UniversalEntityID');
  if (local === undefined && universalId === undefined) {
    return options.defaultSystem ? { system: options.defaultSystem } : {};
  }
  const namespace: IssuerNamespace = {};
  const system =
    (local !== undefined ? options.issuerSystems?.[local] : undefined) ??
    universalEntityIdToSystem(universalId, tagString(qualifiers, 'UniversalEntityIDType')) ??
    (local !== undefined && isOid(local) ? `urn:oid:${local}` : undefined) ??
    (local !== undefined && isAbsoluteUri(local) ? local : undefined);
  if (system) namespace.system = system;
  if (local !== undefined) namespace.assigner = { display: local };
  return namespace;
}
