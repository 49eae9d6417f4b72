// SMART scopes, the router's checks with a token, and what the request
// filter makes of DICOMweb URLs: pure units, no server.
import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import type { Bundle, Resource } from '../../src/fhir/types';
import { describeFhirRequest } from '../../src/http/audit-record';
import { classifyDicomWeb, classifyWadoUri, identityTag, narrowing } from '../../src/http/dicomweb-rules';
import { adminAccess, parseScopes, reach, type Access } from '../../src/fhir/access';
import type { FhirRequest } from '../../src/interactions/request';
import { Router } from '../../src/interactions/router';
import { patientIdOfReference } from '../../src/resources/compartments';
import type { InteractionContext, ResourceProvider } from '../../src/resources/provider';
import { failureOf } from '../support/outcome-error';

function access(scopes: string[], patient?: string): Access {
  return { grants: parseScopes(scopes), admin: false, scopes, ...(patient ? { patient } : {}) };
}


describe('SMART scopes', () => {
  it('reads v2 letters and v1 read/write/*', () => {
    const [v2] = parseScopes(['patient/ImagingStudy.rs']);
    expect(v2).to.deep.include({ level: 'patient', type: 'ImagingStudy' });
    expect([...v2!.permissions]).to.deep.equal(['r', 's']);
    expect([...parseScopes(['user/*.read'])[0]!.permissions]).to.deep.equal(['r', 's']);
    expect([...parseScopes(['user/Task.write'])[0]!.permissions]).to.deep.equal(['c', 'u', 'd']);
    expect([...parseScopes(['system/*.*'])[0]!.permissions]).to.deep.equal(['c', 'r', 'u', 'd', 's']);
  });

  it('ignores what is not a resource scope, letters out of order and granular scopes', () => {
    expect(parseScopes(['openid', 'fhirUser', 'launch/patient', 'offline_access'])).to.deep.equal([]);
    expect(parseScopes(['user/Task.sr', 'user/Task.rr', 'user/Task.x', 'user/Task.'])).to.deep.equal([]);
    expect(parseScopes(['patient/Observation.rs?category=laboratory'])).to.deep.equal([]);
    expect(parseScopes(['user/task.rs'])).to.deep.equal([]);
  });

  it('reaches all with user or system scopes, the compartment with a patient context, nothing without a grant', () => {
    expect(reach(access(['user/ServiceRequest.rs']), 'ServiceRequest', 'r')).to.equal('all');
    expect(reach(access(['user/ServiceRequest.rs']), 'ServiceRequest', 'c')).to.equal('none');
    expect(reach(access(['user/ServiceRequest.rs']), 'Task', 'r')).to.equal('none');
    expect(reach(access(['patient/*.rs'], 'A'), 'ImagingStudy', 's')).to.equal('compartment');
    expect(reach(access(['user/*.rs'], 'A'), 'ImagingStudy', 's')).to.equal('compartment');
    expect(reach(access(['patient/*.rs']), 'ImagingStudy', 's')).to.equal('none');
    expect(reach(adminAccess({ user: 'orthanc' }), 'AuditEvent', 'd')).to.equal('all');
  });

  it('finds the patient of a relative or absolute reference', () => {
    expect(patientIdOfReference('Patient/abc')).to.equal('abc');
    expect(patientIdOfReference('http://h/fhir/Patient/abc-1.2')).to.equal('abc-1.2');
    expect(patientIdOfReference('http://h/fhir/Patient/abc/_history/3')).to.equal('abc');
    expect(patientIdOfReference('Group/abc')).to.equal(undefined);
    expect(patientIdOfReference(undefined)).to.equal(undefined);
  });
});

describe('router with a token', () => {
  const studies: Resource[] = [
    { resourceType: 'ImagingStudy', id: 's-a', subject: { reference: 'Patient/A' } },
    { resourceType: 'ImagingStudy', id: 's-b', subject: { reference: 'Patient/B' } },
  ];
  let searched: Array<[string, string]> = [];
  const imaging: ResourceProvider = {
    type: 'ImagingStudy',
    interactions: ['read', 'search-type'],
    searchParams: [{ name: 'patient', type: 'reference' }],
    async read(id) {
      const found = studies.find((s) => s.id === id);
      if (!found) throw new OperationOutcomeError(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
      return found;
    },
    async search(context: InteractionContext): Promise<Bundle> {
      searched = context.query;
      const patient = context.query.find(([name]) => name === 'patient')?.[1];
      const matches = studies.filter((s) => !patient || (s.subject as { reference: string }).reference === patient);
      // An _include that reaches another patient's Patient, and one of the token's own.
      return {
        resourceType: 'Bundle', type: 'searchset', total: matches.length,
        entry: [
          ...matches.map((resource) => ({ resource, search: { mode: 'match' as const } })),
          { resource: { resourceType: 'Patient', id: 'B' }, search: { mode: 'include' as const } },
          { resource: { resourceType: 'Patient', id: 'A' }, search: { mode: 'include' as const } },
        ],
      };
    },
  };
  const written: Resource[] = [];
  const orders: ResourceProvider = {
    type: 'ServiceRequest',
    interactions: ['create', 'read'],
    searchParams: [],
    async read() {
      throw new OperationOutcomeError(404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
    },
    async create(resource) {
      written.push(resource);
      return { status: 201, resource: { ...resource, id: 'new' } };
    },
  };
  const audit: ResourceProvider = { ...imaging, type: 'AuditEvent', adminOnly: true };
  const router = new Router([imaging, orders, audit], [], { name: 'x', version: '1', orthancVersion: '1.10.1', date: '2026-01-01' });
  const request = (method: FhirRequest['method'], token: Access, path: string[], body?: unknown): FhirRequest =>
    ({ method, path, query: [], headers: {}, baseUrl: 'http://h/fhir', access: token, ...(body ? { body } : {}) });

  it('narrows a patient-context search to the patient and leaves out what it may not read', async () => {
    const bundle = (await router.handle(request('GET', access(['patient/ImagingStudy.rs', 'patient/Patient.r'], 'A'), ['ImagingStudy']))).resource as Bundle;
    expect(searched).to.deep.equal([['patient', 'Patient/A']]);
    expect(bundle.entry!.map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)).to.deep.equal(['ImagingStudy/s-a', 'Patient/A']);
  });

  it('drops included resources of a type the token may not read', async () => {
    const bundle = (await router.handle(request('GET', access(['user/ImagingStudy.rs']), ['ImagingStudy']))).resource as Bundle;
    expect(searched).to.deep.equal([]);
    expect(bundle.entry!.map((e) => e.resource!.id)).to.deep.equal(['s-a', 's-b']);
  });

  it('answers 404 for a read outside the compartment, 403 without the scope', async () => {
    expect((await router.handle(request('GET', access(['patient/*.rs'], 'A'), ['ImagingStudy', 's-a']))).resource?.id).to.equal('s-a');
    expect((await failureOf(router.handle(request('GET', access(['patient/*.rs'], 'A'), ['ImagingStudy', 's-b'])))).status).to.equal(404);
    const refused = await failureOf(router.handle(request('GET', access(['patient/Task.rs'], 'A'), ['ImagingStudy', 's-a'])));
    expect(refused.status).to.equal(403);
    expect(refused.headers['www-authenticate']).to.match(/insufficient_scope/);
  });

  it('checks the letter of each interaction and the compartment of writes', async () => {
    const order = { resourceType: 'ServiceRequest', subject: { reference: 'Patient/A' } };
    expect((await failureOf(router.handle(request('POST', access(['user/ServiceRequest.rs']), ['ServiceRequest'], order)))).status).to.equal(403);
    expect((await router.handle(request('POST', access(['user/ServiceRequest.c']), ['ServiceRequest'], order))).status).to.equal(201);
    expect((await router.handle(request('POST', access(['patient/ServiceRequest.c'], 'A'), ['ServiceRequest'], order))).status).to.equal(201);
    const other = { resourceType: 'ServiceRequest', subject: { reference: 'Patient/B' } };
    expect((await failureOf(router.handle(request('POST', access(['patient/ServiceRequest.c'], 'A'), ['ServiceRequest'], other)))).status).to.equal(403);
    expect(written).to.have.length(2);
  });

  it('keeps the audit trail to administrators, and system operations', async () => {
    expect((await failureOf(router.handle(request('GET', access(['system/*.*']), ['AuditEvent'])))).status).to.equal(403);
    expect((await router.handle(request('GET', adminAccess({ user: 'orthanc' }), ['AuditEvent']))).status).to.equal(200);
    expect((await router.handle(request('GET', access([]), ['metadata']))).status).to.equal(200);
  });
});

describe('DICOMweb URLs, as the request filter sees them', () => {
  it('tells searches from retrieves and collects the UIDs', () => {
    expect(classifyDicomWeb(['studies'])).to.deep.equal({ permission: 's', uids: [], unbounded: true });
    expect(classifyDicomWeb(['series'])).to.deep.equal({ permission: 's', uids: [], unbounded: true });
    expect(classifyDicomWeb(['studies', '1.2', 'series'])).to.deep.equal({ permission: 's', uids: [{ level: 'Study', uid: '1.2' }], unbounded: false });
    expect(classifyDicomWeb(['studies', '1.2', 'metadata'])).to.deep.equal({ permission: 'r', uids: [{ level: 'Study', uid: '1.2' }], unbounded: false });
    expect(classifyDicomWeb(['studies', '1.2', 'series', '1.3', 'instances', '1.4', 'frames', '1'])).to.deep.equal({
      permission: 'r', uids: [{ level: 'Study', uid: '1.2' }, { level: 'Series', uid: '1.3' }, { level: 'Instance', uid: '1.4' }], unbounded: false,
    });
  });

  it('opens nothing else to tokens', () => {
    expect(classifyDicomWeb([])).to.equal(undefined);
    expect(classifyDicomWeb(['servers'])).to.equal(undefined);
    expect(classifyDicomWeb(['studies', 'x*'])).to.equal(undefined);
    expect(classifyDicomWeb(['studies', '1.2', 'delete'])).to.equal(undefined);
  });
});

describe('QIDO-RS and WADO-URI queries, read as the DICOMweb plugin reads them', () => {
  it('finds the identity attributes in every spelling of their tag', () => {
    for (const key of ['PatientID', 'patientid', '00100020', '0010,0020', '0010-0020', '(0010,0020)']) expect(identityTag(key), key).to.equal('00100020');
    for (const key of ['StudyInstanceUID', '0020000d', '0020,000D']) expect(identityTag(key), key).to.equal('0020000D');
    for (const key of ['PatientName', 'includefield', 'limit', '00100010', '00400275.00100020', 'StudyDate']) expect(identityTag(key), key).to.equal(undefined);
  });

  it('takes one identity filter as the narrowing, and several as none', () => {
    expect(narrowing([['PatientID', 'P1'], ['includefield', '00100020'], ['limit', '10']])).to.deep.equal({ patientId: 'P1' });
    expect(narrowing([['StudyInstanceUID', '1.2.3']])).to.deep.equal({ studyUid: '1.2.3' });
    expect(narrowing([['PatientID', 'P1'], ['0010,0020', '*']])).to.equal('ambiguous');
    expect(narrowing([['StudyInstanceUID', '1.2'], ['0020000d', '1.3']])).to.equal('ambiguous');
    expect(narrowing([['PatientID', 'P*']])).to.equal('ambiguous');
    expect(narrowing([['PatientID', 'P%2D1']])).to.equal('ambiguous');
    expect(narrowing([['StudyDate', '20240101']])).to.equal('none');
    expect(narrowing([['PatientID', 'P1'], ['0010%2C0020', '*']])).to.equal('ambiguous');
  });

  it('refuses a WADO-URI request that names a UID twice', () => {
    expect(classifyWadoUri([['requestType', 'WADO'], ['objectUID', '1.2']])).to.deep.equal({ permission: 'r', uids: [{ level: 'Instance', uid: '1.2' }], unbounded: false });
    expect(classifyWadoUri([['objectUID', '1.2'], ['objectUID', '1.3']])).to.equal(undefined);
    expect(classifyWadoUri([['objectUID', '1.2'], ['studyUID', '1.1'], ['studyUID', '1.4']])).to.equal(undefined);
    expect(classifyWadoUri([['studyUID', '1.1']])).to.equal(undefined);
  });
});

describe('audit descriptions', () => {
  it('names the interaction of each FHIR URL', () => {
    expect(describeFhirRequest('GET', ['ImagingStudy'])).to.deep.equal({ interaction: 'search-type', action: 'E', type: 'ImagingStudy' });
    expect(describeFhirRequest('GET', ['Patient', 'A'])).to.deep.equal({ interaction: 'read', action: 'R', type: 'Patient', id: 'A' });
    expect(describeFhirRequest('POST', ['Task'])).to.deep.equal({ interaction: 'create', action: 'C', type: 'Task' });
    expect(describeFhirRequest('POST', [], { type: 'transaction' }).interaction).to.equal('transaction');
    expect(describeFhirRequest('GET', ['Patient', 'A', '$everything']).interaction).to.equal('operation');
    expect(describeFhirRequest('GET', ['Task', 'x', '_history', '2']).interaction).to.equal('vread');
    expect(describeFhirRequest('GET', ['metadata']).interaction).to.equal('capabilities');
  });
});
