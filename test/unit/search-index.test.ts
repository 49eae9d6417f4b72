// The index rows of a resource and the SQL a search compiles to: pure, no
// database (the oracle integration test runs the SQL against the real one).
import { expect } from 'chai';
import { createIndexer } from '../../src/resources/search-indexer';
import { defineSearch, parseSearchQuery, type IndexRows } from '../../src/search';
import { DATE_MAX } from '../../src/search/index-rows';
import { compileEstimate, compileSearch, filterCondition, positiveRows } from '../../src/search/search-sql';
import { SEARCH_CATALOG } from '../../src/resources/search-catalog';
import { worklistKeys } from '../../src/worklist/worklist-keys';
import { SEARCH_DECLARATIONS } from '../../src/resources/search-declarations';

const order = {
  resourceType: 'ServiceRequest', id: 'sr1', status: 'active', intent: 'order',
  subject: { reference: 'Patient/p1' },
  identifier: [
    { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, system: 'urn:oid:2.25.42', value: 'ACC-1' },
    { system: 'urn:dicom:uid', value: 'urn:oid:2.25.7' },
  ],
  code: { concept: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'CT Chest' }], text: 'CT chest' } },
  occurrencePeriod: { start: '2030-06-01' },
  meta: { versionId: '1', lastUpdated: '2030-05-01T08:00:00.000Z' },
};

const task = {
  resourceType: 'Task', id: 't1', status: 'requested', intent: 'order',
  basedOn: [{ reference: 'ServiceRequest/sr1' }], for: { reference: 'Patient/p1' },
  requestedPeriod: { start: '2030-06-01T09:30:00Z' },
  owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: 'CT01' }, display: 'CT01' },
  input: [{ type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '121139' }] }, valueCodeableConcept: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }] } }],
  meta: { versionId: '1', lastUpdated: '2030-05-01T08:00:00.000Z' },
};

const indexer = createIndexer({ keys: { Task: worklistKeys(undefined) } });
const rowsOf = async (resource: Record<string, unknown>, read: (type: string, id: string) => any = () => undefined): Promise<IndexRows> =>
  (await indexer.rows(resource as never, async (type, id) => read(type, id)))!;

describe('index rows', () => {
  it('token rows carry the system, implicit ones from the binding, plus :of-type and the order keys', async () => {
    const rows = await rowsOf(order);
    expect(rows.tokens).to.deep.include({ p: 'ServiceRequest.status', system: 'http://hl7.org/fhir/request-status', code: 'active' });
    expect(rows.tokens).to.deep.include({ p: 'ServiceRequest.identifier', system: 'urn:oid:2.25.42', code: 'ACC-1' });
    expect(rows.tokens).to.deep.include({ p: 'ServiceRequest.identifier:of-type', system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN|ACC-1' });
    expect(rows.tokens).to.deep.include({ p: 'ServiceRequest.$study-uid', system: '', code: '2.25.7' });
    expect(rows.tokens).to.deep.include({ p: 'ServiceRequest.$accession', system: '', code: 'ACC-1' });
    expect(rows.strings).to.deep.include({ p: 'ServiceRequest.code-concept:text', norm: 'ct chest', exact: 'CT chest' });
    // _id is the resource row's own column: no row.
    expect(rows.tokens.filter((t) => t.p === 'ServiceRequest._id')).to.deep.equal([]);
  });

  it('an open Period is open in its date row and its sort keys; references are local Type/id', async () => {
    const rows = await rowsOf(order);
    const occurrence = rows.dates.find((d) => d.p === 'ServiceRequest.occurrence')!;
    expect(occurrence.low).to.equal(Date.UTC(2030, 5, 1));
    expect(occurrence.high).to.equal(DATE_MAX);
    expect(rows.sorts.find((s) => s.p === 'ServiceRequest.occurrence')).to.deep.equal({ p: 'ServiceRequest.occurrence', asc: Date.UTC(2030, 5, 1), desc: DATE_MAX });
    expect(rows.references).to.deep.include({ p: 'ServiceRequest.subject', targetType: 'Patient', targetId: 'p1', url: '' });
  });

  it('a reference with only an identifier gives :identifier tokens and marks the parameter present', async () => {
    const rows = await rowsOf(task);
    expect(rows.tokens).to.deep.include({ p: 'Task.owner:identifier', system: 'urn:dicom:ae', code: 'CT01' });
    expect(rows.tokens).to.deep.include({ p: 'Task.owner:present', system: '', code: '1' });
    expect(rows.references.filter((r) => r.p === 'Task.owner')).to.deep.equal([]);
  });

  it("a scheduled Task of an active order gets the worklist keys, read from its order; others none", async () => {
    const read = (type: string, id: string) => (type === 'ServiceRequest' && id === 'sr1' ? order : undefined);
    const keys = async (resource: Record<string, unknown>, reader = read) =>
      (await rowsOf(resource, reader)).tokens.filter((t) => t.p.startsWith('Task.$wl')).map((t) => `${t.p}=${t.code}`).sort();
    expect(await keys(task)).to.deep.equal(['Task.$wl-accession=ACC-1', 'Task.$wl-date=20300601', 'Task.$wl-modality=CT', 'Task.$wl-patient=p1',
      'Task.$wl-station=CT01', 'Task.$wl=1']);
    expect(await keys({ ...task, status: 'completed' })).to.deep.equal([]);
    expect(await keys(task, () => ({ ...order, status: 'revoked' }))).to.deep.equal([]);
    expect(await keys(task, () => undefined)).to.deep.equal([]);
  });
});

describe('search SQL', () => {
  const tasks = defineSearch({ resourceType: 'Task', ...SEARCH_DECLARATIONS.Task });
  const parse = (query: Array<[string, string]>) => parseSearchQuery(tasks, query, { now: Date.UTC(2030, 0, 1) });

  it('a token filter is an OR of its values over the parameter rows; :not negates the EXISTS', () => {
    const [filter] = parse([['status', 'requested,http://hl7.org/fhir/task-status|ready']]).filters;
    const rows = positiveRows(filter!, 'Task', 0)!;
    expect(rows.text).to.equal('sp_token WHERE p = ? AND (((code = ?)) OR ((code = ?) AND (system = ?)))');
    expect(rows.params).to.deep.equal(['Task.status', 'requested', 'ready', 'http://hl7.org/fhir/task-status']);
    const [not] = parse([['status:not', 'requested']]).filters;
    expect(positiveRows(not!, 'Task', 0)).to.equal(undefined);
    expect(filterCondition(not!, 'Task', 0, 'r.rid').text).to.match(/^NOT EXISTS \(SELECT 1 FROM sp_token WHERE p = \? AND .* AND rid = r\.rid\)$/);
  });

  it('date prefixes compare the row bounds with the value range at its precision', () => {
    const [ge] = parse([['authored-on', 'ge2030-06']]).filters;
    const rows = positiveRows(ge!, 'Task', 0)!;
    expect(rows.text).to.equal('sp_date WHERE p = ? AND (((high > ?) OR (low >= ? AND high <= ?)))');
    expect(rows.params).to.deep.equal(['Task.authored-on', Date.UTC(2030, 6, 1), Date.UTC(2030, 5, 1), Date.UTC(2030, 6, 1)]);
  });

  it('a string starts with the folded value; :exact compares as written; :contains looks inside, escaping LIKE', () => {
    const defs = defineSearch({ resourceType: 'Patient', ...SEARCH_DECLARATIONS.Patient });
    const [name, exact, contains] = parseSearchQuery(defs, [['name', 'MÜL'], ['name:exact', 'Müller'], ['name:contains', '50%_']]).filters;
    expect(positiveRows(name!, 'Patient', 0)!.params).to.deep.equal(['Patient.name', 'mul', `mul${String.fromCodePoint(0x10ffff)}`]);
    expect(positiveRows(exact!, 'Patient', 0)!.params).to.deep.equal(['Patient.name', 'Müller']);
    expect(positiveRows(contains!, 'Patient', 0)!.params).to.deep.equal(['Patient.name', '%50\\%\\_%']);
  });

  it('the page query drives from the chosen filter, checks the others per row, and reads one more than the page', () => {
    const search = parse([['status', 'requested'], ['owner:identifier', 'urn:dicom:ae|CT01'], ['_sort', '-authored-on']]);
    const driven = compileSearch(search, 'Task', { driver: 1 }, { limit: 21, offset: 40 });
    expect(driven.text).to.match(/^SELECT r\.rid AS rid, r\.id AS id FROM \(SELECT DISTINCT rid FROM sp_token WHERE p = \? .*\) d CROSS JOIN sp_resource r WHERE \(r\.rid = d\.rid\) AND \(EXISTS/);
    expect(driven.text).to.contain('ORDER BY (SELECT desc_key FROM sp_sort WHERE rid = r.rid AND p = ?) IS NULL');
    expect(driven.params.slice(-2)).to.deep.equal([21, 40]);
    const scan = compileSearch(search, 'Task', {}, 'count');
    expect(scan.text).to.match(/^SELECT count\(\*\) AS n FROM sp_resource r WHERE \(r\.type = \?\) AND \(EXISTS .*\) AND \(EXISTS .*\)$/);
  });

  it('_id is the row id; :missing looks for any row of the parameter, or its presence marker', () => {
    const [id, missing] = parse([['_id', 'a,b'], ['owner:missing', 'true']]).filters;
    expect(positiveRows(id!, 'Task', 0)).to.deep.equal({ text: 'sp_resource WHERE type = ? AND ((id = ?) OR (id = ?))', params: ['Task', 'a', 'b'] });
    const condition = filterCondition(missing!, 'Task', 0, 'r.rid');
    expect(condition.text).to.equal('NOT (EXISTS (SELECT 1 FROM sp_ref WHERE rid = r.rid AND p = ?) OR EXISTS (SELECT 1 FROM sp_token WHERE rid = r.rid AND p = ?))');
    expect(condition.params).to.deep.equal(['Task.owner', 'Task.owner:present']);
  });

  it('a chain or _has drives as a set of rows, and is checked per row as a correlated join with its own aliases', () => {
    const query = (type: string, q: Array<[string, string]>) => parseSearchQuery(SEARCH_CATALOG.get(type)!, q, { catalog: SEARCH_CATALOG });
    const has = query('Patient', [['_id', 'p1'], ['_has:ServiceRequest:patient:_has:Task:based-on:status', 'completed']]);
    const checked = compileSearch(has, 'Patient', { driver: 0 }, { limit: 21, offset: 0 });
    expect(checked.text).to.contain('EXISTS (SELECT 1 FROM sp_ref c1 CROSS JOIN sp_resource t1 WHERE c1.p = ? AND c1.target_type = ? AND c1.target_id = r.id AND t1.rid = c1.rid');
    expect(checked.text).to.contain('c2.target_id = t1.id');
    const driving = compileSearch(has, 'Patient', { driver: 1 }, { limit: 21, offset: 0 });
    expect(driving.text).to.match(/FROM \(SELECT DISTINCT rid FROM sp_resource WHERE type = \? AND id IN \(SELECT c\.target_id FROM sp_ref c/);
    const chain = query('Task', [['status', 'requested'], ['based-on:ServiceRequest.patient.family', 'beta']]);
    const perRow = compileSearch(chain, 'Task', { driver: 0 }, 'count');
    expect(perRow.text).to.contain('FROM sp_ref c1 CROSS JOIN sp_resource t1 WHERE c1.rid = r.rid');
    expect(perRow.text).to.contain('FROM sp_ref c2 CROSS JOIN sp_resource t2 WHERE c2.rid = t1.rid');
    // As a driver, the chain's inner matches are looked up by their rows' primary key, not by walking the type.
    const driven = compileSearch(chain, 'Task', { driver: 1 }, 'count');
    expect(driven.text).to.contain('target_id IN (SELECT m.id FROM sp_resource m WHERE m.rid IN (SELECT rid FROM sp_ref');
    // A _has is estimated by its referring resources.
    expect(compileEstimate(has.filters[1]!, 'Patient', 0, 64)!.text).to.match(/^SELECT count\(\*\) AS n FROM \(SELECT 1 FROM sp_token WHERE p = \?/);
  });
});
