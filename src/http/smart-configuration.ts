// Discovery of the authorization this server takes (SMART App Launch 2.x,
// conformance): /fhir/.well-known/smart-configuration, and the security
// section of the CapabilityStatement. Both are read without a token.
import type { AuthorizationConfig } from '../config';

const SMART_SERVICE = { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' };
const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/** What a resource server can promise: it checks scopes v1 and v2 at patient, user and system level. */
const CAPABILITIES = ['permission-v1', 'permission-v2', 'permission-patient', 'permission-user'];
/** What an authorization endpoint adds: apps launched on their own, picking a patient. */
const LAUNCH_CAPABILITIES = ['launch-standalone', 'context-standalone-patient', 'client-public', 'client-confidential-asymmetric'];

export function smartConfiguration(config: AuthorizationConfig): Record<string, unknown> {
  const launch = config.authorizeEndpoint !== undefined;
  return {
    issuer: config.issuer,
    ...(/^https?:/.test(config.jwks) ? { jwks_uri: config.jwks } : {}),
    ...(launch ? { authorization_endpoint: config.authorizeEndpoint } : {}),
    token_endpoint: config.tokenEndpoint,
    grant_types_supported: [...(launch ? ['authorization_code'] : []), 'client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    scopes_supported: ['openid', 'fhirUser', 'launch/patient', 'offline_access', 'patient/*.rs', 'patient/*.cruds', 'user/*.rs', 'user/*.cruds',
      'system/*.rs', 'system/*.cruds', 'patient/*.read', 'user/*.read', 'system/*.read', config.adminScope],
    response_types_supported: launch ? ['code'] : [],
    code_challenge_methods_supported: ['S256'],
    capabilities: [...(launch ? LAUNCH_CAPABILITIES : []), ...CAPABILITIES],
  };
}

/** CapabilityStatement.rest.security (R5 and R4 alike). */
export function restSecurity(config: AuthorizationConfig): Record<string, unknown> {
  const uris = [
    { url: 'token', valueUri: config.tokenEndpoint },
    ...(config.authorizeEndpoint !== undefined ? [{ url: 'authorize', valueUri: config.authorizeEndpoint }] : []),
  ];
  return {
    extension: [{ url: OAUTH_URIS, extension: uris }],
    service: [{ coding: [SMART_SERVICE], text: 'OAuth2 bearer tokens per SMART App Launch and Backend Services' }],
    description: `Bearer tokens of ${config.issuer} (RS256 or ES256, audience ${config.audience}) with SMART scopes v1 or v2; a patient context `
      + 'reaches that patient only, for FHIR and for DICOMweb. See .well-known/smart-configuration. Orthanc\'s RegisteredUsers may use HTTP Basic.',
  };
}
