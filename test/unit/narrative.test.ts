// The generated narratives (src/resources/narrative.ts): each type's glance,
// escaping of hostile values, well-formed XHTML of the allowed elements only,
// no Subscription header value, resources that bring a text keep it, the
// containers (Bundle, Parameters) get none but their resources do, and the
// R4 view keeps them. Pure units.
import { expect } from 'chai';
import { OperationOutcomeError, outcome, toOutcome } from '../../src/fhir/outcome';
import { toR4 } from '../../src/fhir/r4';
import type { Bundle, Resource } from '../../src/fhir/types';
import { mapImagingStudy } from '../../src/resources/imaging/imaging-study';
import { mapPatient } from '../../src/resources/imaging/patient';
import { narratedStudy } from '../../src/resources/imaging-reader';
import { narrativeOf, withNarrative, withNarratives, withoutGeneratedText } from '../../src/resources/narrative';
import { subset, SUBSETTED } from '../../src/search';
import { fhirProblems, loadFhirSchema } from '../support/fhir-schema';
import { loadFixture, patientInput, studyInput } from './fixtures/imaging/load';

type Json = Record<string, any>;

// --- a small XHTML checker: FHIR's narrative rules (narrative.html, txt-1, txt-2) as this server uses them

/** The elements R5 allows in a narrative's div (narrative.html#xhtml). */
const ALLOWED = new Set(['a', 'abbr', 'acronym', 'b', 'big', 'blockquote', 'br', 'caption', 'cite', 'code', 'col', 'colgroup', 'dd', 'dfn',
  'div', 'dl', 'dt', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'li', 'ol', 'p', 'pre', 'q', 'samp', 'small', 'span',
  'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'tt', 'ul', 'var']);
const ROOT = '<div xmlns="http://www.w3.org/1999/xhtml">';

/**
 * What keeps `div` from being a narrative: a root div in the XHTML
 * namespace, only allowed elements, every one closed in order, no attribute
 * (this server writes none: no event handler, style or link can slip in),
 * text with no raw '<' or '&', some non-whitespace text. Empty when fine.
 */
function xhtmlProblems(div: string): string[] {
  const problems: string[] = [];
  if (!div.startsWith(ROOT)) problems.push(`root is not ${ROOT}`);
  const token = /<(\/?)([A-Za-z][A-Za-z0-9]*)((?:\s+[A-Za-z:]+="[^"<>]*")*)\s*(\/?)>|&#(\d+);|&(amp|lt|gt|quot|apos);|([^<&]+)|([\s\S])/y;
  const open: string[] = [];
  let text = '';
  let closedRoot = false;
  for (let match = token.exec(div); match; match = token.exec(div)) {
    const [whole, slash, name, attributes, selfClosing, reference, , chars, stray] = match;
    if (closedRoot) problems.push(`content after the root: ${whole}`);
    if (stray !== undefined) problems.push(`a raw '${stray}' at ${match.index}`);
    else if (chars !== undefined) text += chars;
    else if (reference !== undefined) text += String.fromCharCode(Number(reference));
    else if (name !== undefined) {
      if (!ALLOWED.has(name)) problems.push(`element <${name}> is not allowed`);
      const root = open.length === 0 && slash === '';
      if (attributes!.trim() !== '' && !(root && attributes === ' xmlns="http://www.w3.org/1999/xhtml"')) problems.push(`<${name}> has attributes${attributes}`);
      if (slash === '/') {
        if (open.pop() !== name) problems.push(`</${name}> closes nothing open`);
        if (open.length === 0) closedRoot = true;
      } else if (selfClosing !== '/') {
        open.push(name);
      }
    }
    if (token.lastIndex === div.length) break;
  }
  if (open.length > 0) problems.push(`not closed: ${open.join(', ')}`);
  if (text.trim() === '') problems.push('no text');
  return problems;
}

/** The narrative's text, as a reader sees it (character references decoded). */
function shown(resource: Resource): string {
  const div = (resource.text as { div: string }).div;
  return div.replace(/<[^>]+>/g, ' ').replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/\s+/g, ' ').trim();
}

/** The narrative's rows: label -> value. */
function rows(resource: Resource): Record<string, string> {
  const div = (resource.text as { div: string }).div;
  const decode = (html: string) => html.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  return Object.fromEntries([...div.matchAll(/<tr><th>(.*?)<\/th><td>(.*?)<\/td><\/tr>/g)].map(([, label, value]) => [decode(label!), decode(value!)]));
}

function narrated(resource: Resource): Resource {
  const result = withNarrative(resource);
  expect(result.text, resource.resourceType).to.have.property('status', 'generated');
  expect(xhtmlProblems((result.text as { div: string }).div), resource.resourceType).to.deep.equal([]);
  return result;
}

const ACSN = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] };
const MR = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] };
const HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>';

const serviceRequest: Resource = {
  resourceType: 'ServiceRequest', id: 'o1', meta: { versionId: '2', lastUpdated: '2030-05-01T08:00:00Z' },
  identifier: [{ type: ACSN, system: 'urn:oid:2.25.42', value: 'A-1' }],
  status: 'active', intent: 'order', subject: { reference: 'Patient/p1', display: 'Jane Doe' },
  code: { concept: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }], text: 'CT chest' } },
  occurrenceDateTime: '2030-06-01T09:30:00Z', requester: { reference: 'Practitioner/dr1', display: 'Dr. Smith' },
};

const task: Resource = {
  resourceType: 'Task', id: 't1', meta: { versionId: '1', lastUpdated: '2030-05-01T08:00:00Z' },
  status: 'requested', intent: 'order', description: 'CT chest, step 1', basedOn: [{ reference: 'ServiceRequest/o1' }],
  focus: { reference: 'ServiceRequest/o1' }, for: { reference: 'Patient/p1' },
  requestedPeriod: { start: '2030-06-01T09:30:00+02:00' },
  owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' } },
};

const subscription: Resource = {
  resourceType: 'Subscription', id: 's1', meta: { versionId: '1', lastUpdated: '2030-05-01T08:00:00Z' },
  status: 'active', topic: 'urn:orthanc-fhir:topic:task',
  channelType: { system: 'http://terminology.hl7.org/CodeSystem/subscription-channel-type', code: 'rest-hook' },
  endpoint: 'https://ris.example.org/hook', parameter: [{ name: 'Authorization', value: 'Bearer s3cr3t-t0ken' }],
  content: 'id-only', contentType: 'application/fhir+json',
};

describe('narratives', function () {
  this.timeout(120000);
  before(() => loadFhirSchema());

  describe('what each type shows', () => {
    it('ImagingStudy: the patient as its DICOM names them, started, modalities, description, accession, counts, status', () => {
      const captured = loadFixture('study-pet-ct');
      const study = narratedStudy(captured.study, mapImagingStudy(studyInput(captured), {}));
      expect(xhtmlProblems((study.text as { div: string }).div)).to.deep.equal([]);
      const { Started: started, ...shownRows } = rows(study);
      // The time as the resource gives it, its zone not converted (StudyDate 20240131, StudyTime 101530.123456).
      expect(started).to.match(/^2024-01-31( 10:15:30 (UTC|[+-]\d\d:\d\d))?$/);
      expect(String(study.started).replace('T', ' ')).to.contain(started!.split(' ').slice(0, 2).join(' '));
      expect(shownRows).to.deep.equal({
        Patient: 'Dr. John Albert Doe Jr. (MRN PID-001)',
        Modalities: 'CT, PT, SR',
        Description: 'PET-CT Chest',
        Accession: 'ACC-1001',
        'Series and instances': '4 series, 7 instances',
        Status: 'available',
      });
      expect(fhirProblems(study as Json as { resourceType: string })).to.deep.equal([]);
      // Without the study's patient tags: the reference.
      expect(rows(narrated({ resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p9' }, numberOfSeries: 1, numberOfInstances: 1 })))
        .to.deep.equal({ Patient: 'Patient/p9', 'Series and instances': '1 series, 1 instance', Status: 'available' });
    });

    it('Patient: name, MRN and other identifiers, birth date, sex', () => {
      const patient = narrated(mapPatient(patientInput(loadFixture('study-pet-ct')), {}));
      expect(rows(patient)).to.include({ Name: 'Dr. John Albert Doe Jr.', MRN: 'PID-001', 'Birth date': '1970-01-15', Sex: 'male' });
      expect(rows(patient).Identifiers).to.contain('ALT-1').and.contain('ALT-2');
      expect(fhirProblems(patient as Json as { resourceType: string })).to.deep.equal([]);
      const written = narrated({ resourceType: 'Patient', identifier: [{ type: MR, value: 'MRN 7' }],
        name: [{ use: 'nickname', given: ['Jo'] }, { use: 'official', family: 'Doe', given: ['Jane', 'Q'] }] });
      expect(rows(written)).to.deep.equal({ Name: 'Jane Q Doe', MRN: 'MRN 7' });
      const long = narrated({ resourceType: 'Patient', name: [{ prefix: ['Prof.', 'Dr.'], given: ['Anna', 'Maria', 'Luisa'], family: 'Rossi', suffix: ['PhD'] }] });
      expect(rows(long).Name).to.equal('Prof. Dr. Anna Maria Luisa Rossi PhD');
    });

    it('ServiceRequest: procedure, patient, accession, status and intent, occurrence, requester', () => {
      expect(rows(narrated(serviceRequest))).to.deep.equal({
        Procedure: 'CT chest', Patient: 'Jane Doe', Accession: 'A-1', Status: 'active (order)', Occurrence: '2030-06-01 09:30:00 UTC', Requester: 'Dr. Smith',
      });
      const period = narrated({ ...serviceRequest, occurrenceDateTime: undefined, occurrencePeriod: { start: '2030-06-01', end: '2030-06-02' } });
      expect(rows(period).Occurrence).to.equal('2030-06-01 to 2030-06-02');
    });

    it('Task: status, description, focus, station, scheduled start, for', () => {
      expect(rows(narrated(task))).to.deep.equal({
        Status: 'requested', Description: 'CT chest, step 1', Focus: 'ServiceRequest/o1', Station: 'CT01',
        'Scheduled start': '2030-06-01 09:30:00 +02:00', For: 'Patient/p1',
      });
    });

    it('Endpoint: name, address, connection type, status', () => {
      const endpoint = narrated({ resourceType: 'Endpoint', id: 'dicomweb', status: 'active', name: 'DICOMweb',
        connectionType: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'dicom-wado-rs' }] }],
        address: 'http://pacs/dicom-web' });
      expect(rows(endpoint)).to.deep.equal({ Name: 'DICOMweb', Address: 'http://pacs/dicom-web', 'Connection type': 'dicom-wado-rs', Status: 'active' });
    });

    it('Subscription: topic, status, channel type, endpoint, and never a header or its value', () => {
      const result = narrated(subscription);
      expect(rows(result)).to.deep.equal({ Topic: 'urn:orthanc-fhir:topic:task', Status: 'active', 'Channel type': 'rest-hook', Endpoint: 'https://ris.example.org/hook' });
      const div = (result.text as { div: string }).div;
      expect(div).not.to.contain('s3cr3t').and.not.to.contain('Authorization').and.not.to.contain('Bearer');
      // Masked as answered, the same narrative.
      expect(narrativeOf({ ...subscription, parameter: [{ name: 'Authorization', value: '(hidden)' }] })).to.deep.equal(result.text);
    });

    it('SubscriptionTopic, SubscriptionStatus, AuditEvent, CapabilityStatement', () => {
      expect(rows(narrated({ resourceType: 'SubscriptionTopic', url: 'urn:orthanc-fhir:topic:task', title: 'Task changed', status: 'active' })))
        .to.deep.equal({ Title: 'Task changed', URL: 'urn:orthanc-fhir:topic:task' });
      expect(rows(narrated({ resourceType: 'SubscriptionStatus', status: 'active', type: 'heartbeat', eventsSinceSubscriptionStart: '42', topic: 'urn:t' })))
        .to.deep.equal({ Status: 'active', Type: 'heartbeat', 'Events since start': '42' });
      const audit = narrated({
        resourceType: 'AuditEvent', code: { coding: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }] }, action: 'R',
        recorded: '2030-01-01T10:00:00.123Z',
        outcome: { code: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-outcome', code: '0', display: 'Success' }, detail: [{ text: 'HTTP 200' }] },
        agent: [{ who: { identifier: { value: 'clerk' }, display: 'clerk' } }, { who: { identifier: { system: 'urn:client', value: 'ris-app' } } }],
      });
      expect(rows(audit)).to.deep.equal({ Action: 'read (read)', Recorded: '2030-01-01 10:00:00 UTC', Outcome: 'Success (HTTP 200)', Agent: 'clerk, ris-app' });
      const statement = narrated({
        resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '5.0.0', software: { name: 'orthanc-fhir', version: '0.1.0' },
        rest: [{ mode: 'server', resource: [{ type: 'Patient' }, { type: 'ImagingStudy' }, { type: 'Task' }] }],
      });
      expect(rows(statement)).to.deep.equal({ Software: 'orthanc-fhir 0.1.0', 'FHIR version': '5.0.0', 'Resource types': 'Patient, ImagingStudy, Task' });
    });

    it('OperationOutcome: each issue, its severity, code and diagnostics', () => {
      const result = narrated({ resourceType: 'OperationOutcome', issue: [
        { severity: 'error', code: 'invalid', diagnostics: "_count must be a number (got '<x>')" },
        { severity: 'information', code: 'informational' },
      ] });
      expect(shown(result)).to.equal("Operation outcome Severity Code Details error invalid _count must be a number (got '<x>') information informational");
    });

    it('any other DomainResource: its type and id', () => {
      expect(shown(narrated({ resourceType: 'Observation', id: 'ob1', status: 'final' }))).to.equal('Observation Id ob1');
      expect(shown(narrated({ resourceType: 'Basic' }))).to.equal('Basic');
    });
  });

  describe('safety', () => {
    it('(the XHTML check bites)', () => {
      const div = (inner: string) => `${ROOT}${inner}</div>`;
      expect(xhtmlProblems(div('<p>fine &#60; &amp;</p>'))).to.deep.equal([]);
      expect(xhtmlProblems(div('<script>x</script>'))).to.have.length.above(0);
      expect(xhtmlProblems(div('<p onclick="x">a</p>'))).to.have.length.above(0);
      expect(xhtmlProblems(div('<p>a'))).to.have.length.above(0);
      expect(xhtmlProblems(div('<p>a</b></p>'))).to.have.length.above(0);
      expect(xhtmlProblems(div('a & b'))).to.have.length.above(0);
      expect(xhtmlProblems(div('a < b'))).to.have.length.above(0);
      expect(xhtmlProblems(div(' '))).to.have.length.above(0);
      expect(xhtmlProblems('<div>a</div>')).to.have.length.above(0);
      expect(xhtmlProblems(`${div('a')}<p>b</p>`)).to.have.length.above(0);
    });

    it('escapes every value from data: a PatientName holding markup stays text', () => {
      const captured = loadFixture('study-pet-ct');
      const hostileStudy = { ...captured.study, PatientMainDicomTags: { ...captured.study.PatientMainDicomTags, PatientName: `${HOSTILE}^Eve`, PatientID: '"><b>' } };
      const study = narratedStudy(hostileStudy, { ...mapImagingStudy(studyInput(captured), {}), description: HOSTILE });
      const div = (study.text as { div: string }).div;
      expect(xhtmlProblems(div)).to.deep.equal([]);
      expect(div).not.to.match(/<script|<img|<b>"/i);
      expect(rows(study).Description).to.equal(HOSTILE);
      expect(rows(study).Patient).to.contain('<script>alert("x")</script>').and.contain('(MRN "><b>)');
      for (const resource of [
        { ...serviceRequest, code: { concept: { text: HOSTILE } }, subject: { display: HOSTILE } },
        { ...task, description: HOSTILE, owner: { display: '</td></tr></tbody></table></div><script>' } },
        { resourceType: 'Patient', name: [{ text: HOSTILE }], identifier: [{ value: '&amp;&#60;' }], gender: 'x"y' },
        { ...subscription, endpoint: 'https://x/"><script>', topic: HOSTILE },
        { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: '<b>', diagnostics: HOSTILE }] },
        { resourceType: '<Weird>', id: HOSTILE },
      ] as Resource[]) {
        const result = narrated(resource);
        expect((result.text as { div: string }).div, resource.resourceType).not.to.match(/<script|<img|<weird/i);
      }
      expect(rows(narrated({ resourceType: 'Patient', identifier: [{ value: '&amp;&#60;' }] })).Identifiers).to.equal('&amp;&#60;');
    });

    it('leaves out what XML cannot hold, and cuts long values', () => {
      const result = narrated({ ...task, description: `a\u0000b\u0007c\u001Fd${'x'.repeat(500)}` });
      expect(rows(result).Description).to.match(/^abcdx+…$/).and.have.length.within(190, 200);
    });

    it('reads a malformed resource without throwing (a client wrote it)', () => {
      for (const resource of [
        { resourceType: 'Task', status: 7, owner: 'CT01', requestedPeriod: [], for: null },
        { resourceType: 'ImagingStudy', modality: 'CT', identifier: {}, numberOfSeries: '2' },
        { resourceType: 'Patient', name: [null, { given: 'x' }], identifier: [{ type: { coding: 'MR' } }] },
        { resourceType: 'CapabilityStatement', rest: {}, software: [] },
        { resourceType: 'OperationOutcome', issue: 'none' },
      ] as unknown as Resource[]) narrated(resource);
    });
  });

  describe('where a narrative goes, and where not', () => {
    it('keeps a text the resource brings, and returns it as it is', () => {
      const own = { ...serviceRequest, text: { status: 'additional', div: '<div xmlns="http://www.w3.org/1999/xhtml">RIS text</div>' } };
      expect(withNarrative(own)).to.equal(own);
      expect(withNarratives(own)).to.equal(own);
    });

    it('never changes the resource given (frozen, or shared by a cache), and puts text after id and meta', () => {
      const frozen = Object.freeze({ ...serviceRequest });
      const result = withNarrative(frozen);
      expect(frozen).not.to.have.property('text');
      expect(Object.keys(result).slice(0, 4)).to.deep.equal(['resourceType', 'id', 'meta', 'text']);
      const { text: _text, ...rest } = result;
      expect(rest).to.deep.equal(serviceRequest);
      // ETag and version come from meta, which is the resource's own.
      expect(result.meta).to.equal(serviceRequest.meta);
    });

    it('gives none to a Bundle or a Parameters, but to the resources in them; shares what needs none', () => {
      const withText = withNarrative(task);
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'batch-response',
        entry: [
          { resource: serviceRequest, response: { status: '200 OK' } },
          { resource: { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: withText }, { resource: task }] } },
          { response: { status: '400 Bad Request', outcome: outcome('invalid', 'bad') } },
          { resource: withText },
        ],
      };
      const result = withNarratives(bundle) as Json;
      expect(result).not.to.have.property('text');
      expect(result.entry[0].resource.text.status).to.equal('generated');
      expect(result.entry[0].response).to.deep.equal({ status: '200 OK' });
      expect(result.entry[1].resource).not.to.have.property('text');
      expect(result.entry[1].resource.entry[0].resource).to.equal(withText);
      expect(result.entry[1].resource.entry[1].resource.text.status).to.equal('generated');
      expect(result.entry[2].response.outcome.text.status).to.equal('generated');
      expect(result.entry[2].response.status).to.equal('400 Bad Request');
      expect(result.entry[3]).to.equal(bundle.entry![3]);
      expect(bundle.entry![0]!.resource).not.to.have.property('text');
      // Nothing to add: the same Bundle back.
      const done = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: withText }, { fullUrl: 'x' }] } as Resource;
      expect(withNarratives(done)).to.equal(done);
      const parameters = withNarratives({ resourceType: 'Parameters', parameter: [{ name: 'a', valueString: 'x' }, { name: 'b', part: [{ name: 'c', resource: task }] }] }) as Json;
      expect(parameters).not.to.have.property('text');
      expect(parameters.parameter[0]).to.deep.equal({ name: 'a', valueString: 'x' });
      expect(parameters.parameter[1].part[0].resource.text.status).to.equal('generated');
      expect(withNarrative({ resourceType: 'Binary', contentType: 'text/plain' })).not.to.have.property('text');
    });

    it('leaves a subset as _summary / _elements made it; made first, _summary=text keeps it and _elements=id drops it', () => {
      const elements = subset(withNarrative(serviceRequest), { elements: ['id'] });
      expect(elements).not.to.have.property('text');
      expect(withNarratives(elements)).to.equal(elements);
      const text = subset(withNarrative(serviceRequest), { summary: 'text' });
      expect(text.text).to.deep.equal(narrativeOf(serviceRequest));
      expect(text.meta!.tag).to.deep.include(SUBSETTED);
      expect(subset(withNarrative(serviceRequest), { summary: 'data' })).not.to.have.property('text');
    });

    it('drops a generated text sent to be stored, keeps a text of the client', () => {
      const read = withNarrative(task);
      expect(withoutGeneratedText({ ...read, status: 'in-progress' })).to.deep.equal({ ...task, status: 'in-progress' });
      const own = { ...task, text: { status: 'additional', div: '<div xmlns="http://www.w3.org/1999/xhtml">mine</div>' } };
      expect(withoutGeneratedText(own)).to.equal(own);
      expect(withoutGeneratedText(task)).to.equal(task);
      // Stored without it, served with a fresh one: the status sent, not the one read.
      expect(rows(withNarrative(withoutGeneratedText({ ...read, status: 'in-progress' }))).Status).to.equal('in-progress');
    });

    it('goes with every error answered (toOutcome), made of the issues as they are then', () => {
      const mapped = toOutcome(new OperationOutcomeError(400, outcome('invalid', 'bad <value>')));
      expect(mapped.outcome.text).to.deep.equal(narrativeOf(mapped.outcome));
      expect(shown(mapped.outcome)).to.contain('bad <value>');
      expect(toOutcome(new Error('boom')).outcome.text).to.have.property('status', 'generated');
      expect(fhirProblems(mapped.outcome)).to.deep.equal([]);
    });

    it('is valid R5, and kept by the R4 view, but for the statement, whose R4 form is not what it described', () => {
      for (const resource of [serviceRequest, task, subscription]) {
        const result = withNarrative(resource);
        expect(fhirProblems(result as { resourceType: string }), resource.resourceType).to.deep.equal([]);
        expect(toR4(result).text, resource.resourceType).to.deep.equal(result.text);
      }
      const captured = loadFixture('study-pet-ct');
      const study = narratedStudy(captured.study, mapImagingStudy(studyInput(captured), {}));
      expect(toR4(study).text).to.deep.equal(study.text);
      const failure = withNarrative(outcome('invalid', 'bad'));
      expect(toR4(failure).text).to.deep.equal(failure.text);
      // SubscriptionStatus becomes a Parameters in R4: no text there.
      const status = withNarrative({ resourceType: 'SubscriptionStatus', status: 'active', type: 'heartbeat', eventsSinceSubscriptionStart: '1', topic: 'urn:t' });
      expect(toR4(status).resourceType).to.equal('Parameters');
      expect(toR4(status)).not.to.have.property('text');
      const statement = withNarrative({ resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '5.0.0', date: '2030-01-01',
        format: ['json'], rest: [{ mode: 'server', resource: [{ type: 'Patient' }, { type: 'AuditEvent' }] }] });
      const r4 = toR4(statement);
      expect(r4).not.to.have.property('text');
      expect(rows(withNarrative(r4))).to.include({ 'FHIR version': '4.0.1', 'Resource types': 'Patient' });
    });
  });
});
