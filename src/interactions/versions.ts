// The FHIR versions this server speaks (R5 http.html#versions): R5, its
// own, and R4, converted at the edge. $versions lists them; a client picks
// one with the fhirVersion parameter of its Accept header, or the /R4 and
// /R5 bases.
import type { SystemOperation } from '../resources/provider';

export interface FhirVersion {
  /** The code clients send (fhirVersion=4.0). */
  readonly code: '4.0' | '5.0';
  /** The release, as CapabilityStatement.fhirVersion says it. */
  readonly release: string;
  /** The base path segment that selects it (/fhir/R4). */
  readonly segment: string;
}

export const R4: FhirVersion = { code: '4.0', release: '4.0.1', segment: 'R4' };
export const R5: FhirVersion = { code: '5.0', release: '5.0.0', segment: 'R5' };
export const FHIR_VERSIONS: readonly FhirVersion[] = [R4, R5];
export const DEFAULT_VERSION = R5;

export const versionsOperation: SystemOperation = {
  name: 'versions',
  methods: ['GET'],
  definition: 'http://hl7.org/fhir/OperationDefinition/CapabilityStatement-versions',
  documentation: 'The FHIR versions served (4.0 and 5.0) and the default (5.0)',
  async invoke() {
    return {
      status: 200,
      resource: {
        resourceType: 'Parameters',
        parameter: [
          ...FHIR_VERSIONS.map((version) => ({ name: 'version', valueCode: version.code })),
          { name: 'default', valueCode: DEFAULT_VERSION.code },
        ],
      },
    };
  },
};
