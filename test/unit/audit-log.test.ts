// The audit trail's table (src/store/audit-log.ts): the SQL both stores run
// for its searches and counts (the WHERE clauses, the order of their
// parameters, the sort and the page), and the values of an inserted row.
import { expect } from 'chai';
import { AUDIT_INSERT, auditCountSql, auditSchema, auditSearchSql, auditValues, type AuditEntry, type AuditQuery } from '../../src/store/audit-log';

const SELECT = 'SELECT seq, body FROM audit_event';
const COUNT = 'SELECT count(*) AS n FROM audit_event';
const NEWEST_FIRST = ' ORDER BY recorded DESC, seq DESC LIMIT ? OFFSET ?';

/** The number of `?` placeholders of a statement. */
const marks = (text: string) => (text.match(/\?/g) ?? []).length;

describe('the audit trail\'s SQL', () => {
  it('no filter: every row, newest first (recorded, then seq), one page', () => {
    const sql = auditSearchSql({ limit: 20, offset: 0 });
    expect(sql).to.deep.equal({ text: `${SELECT}${NEWEST_FIRST}`, params: [20, 0] });
    expect(auditCountSql({ limit: 20, offset: 0 })).to.deep.equal({ text: COUNT, params: [] });
  });

  it('a time range: recorded >= from and recorded < to, from first', () => {
    const sql = auditSearchSql({ from: 1000, to: 2000, limit: 5, offset: 10 });
    expect(sql.text).to.equal(`${SELECT} WHERE recorded >= ? AND recorded < ?${NEWEST_FIRST}`);
    expect(sql.params).to.deep.equal([1000, 2000, 5, 10]);
    // Either bound alone.
    expect(auditSearchSql({ from: 7, limit: 1, offset: 0 })).to.deep.equal({ text: `${SELECT} WHERE recorded >= ?${NEWEST_FIRST}`, params: [7, 1, 0] });
    expect(auditCountSql({ to: 9, limit: 1, offset: 0 })).to.deep.equal({ text: `${COUNT} WHERE recorded < ?`, params: [9] });
  });

  it('an agent matches the requestor or the client: the values are bound once for each column', () => {
    const sql = auditSearchSql({ agents: ['iss|alice', 'urn:ietf:params:oauth:client-id|app'], limit: 3, offset: 0 });
    expect(sql.text).to.equal(`${SELECT} WHERE (agent IN (?, ?) OR client IN (?, ?))${NEWEST_FIRST}`);
    expect(sql.params).to.deep.equal(['iss|alice', 'urn:ietf:params:oauth:client-id|app', 'iss|alice', 'urn:ietf:params:oauth:client-id|app', 3, 0]);
  });

  it('every filter ANDed, in the order from, to, agents, patients, entities, outcomes; the page last', () => {
    const query: AuditQuery = {
      from: 100, to: 200, agents: ['a|1'], patients: ['p1', 'p2'], entities: ['Patient/p1'], outcomes: ['4', '8'], limit: 50, offset: 150,
    };
    const where = ' WHERE recorded >= ? AND recorded < ? AND (agent IN (?) OR client IN (?)) AND (patient IN (?, ?)) AND (entity IN (?)) AND (outcome IN (?, ?))';
    const filterParams = [100, 200, 'a|1', 'a|1', 'p1', 'p2', 'Patient/p1', '4', '8'];
    const search = auditSearchSql(query);
    expect(search.text).to.equal(`${SELECT}${where}${NEWEST_FIRST}`);
    expect(search.params).to.deep.equal([...filterParams, 50, 150]);
    const count = auditCountSql(query);
    expect(count).to.deep.equal({ text: `${COUNT}${where}`, params: filterParams });
    for (const sql of [search, count]) expect(marks(sql.text)).to.equal(sql.params.length);
  });

  it('an empty list of values matches no row (1 = 0), and binds nothing', () => {
    const sql = auditSearchSql({ patients: [], outcomes: ['0'], limit: 10, offset: 0 });
    expect(sql.text).to.equal(`${SELECT} WHERE 1 = 0 AND (outcome IN (?))${NEWEST_FIRST}`);
    expect(sql.params).to.deep.equal(['0', 10, 0]);
    expect(auditCountSql({ agents: [], limit: 10, offset: 0 })).to.deep.equal({ text: `${COUNT} WHERE 1 = 0`, params: [] });
    // An absent filter is no filter (not an empty one).
    expect(auditCountSql({ agents: undefined, limit: 10, offset: 0 }).text).to.equal(COUNT);
  });

  it('ascending: oldest first, recorded then seq', () => {
    expect(auditSearchSql({ ascending: true, limit: 2, offset: 4 })).to.deep.equal({
      text: `${SELECT} ORDER BY recorded ASC, seq ASC LIMIT ? OFFSET ?`, params: [2, 4],
    });
    expect(auditSearchSql({ ascending: false, limit: 2, offset: 4 }).text).to.equal(`${SELECT}${NEWEST_FIRST}`);
  });

  it('a row\'s values in the order of the INSERT, null for the absent columns', () => {
    const full: AuditEntry = { recorded: 5, agent: 'a|1', client: 'c|2', patient: 'p1', entity: 'Patient/p1', outcome: '0', body: '{}' };
    expect(auditValues(full)).to.deep.equal([5, 'a|1', 'c|2', 'p1', 'Patient/p1', '0', '{}']);
    expect(auditValues({ recorded: 6, outcome: '8', body: '{"x":1}' })).to.deep.equal([6, null, null, null, null, '8', '{"x":1}']);
    expect(marks(AUDIT_INSERT)).to.equal(auditValues(full).length);
  });

  it('the table has the columns the statements name, each searched column indexed with the time', () => {
    for (const dialect of ['sqlite', 'postgresql'] as const) {
      const schema = auditSchema(dialect);
      expect(schema).to.match(/CREATE TABLE IF NOT EXISTS audit_event/);
      for (const column of ['recorded', 'agent', 'client', 'patient', 'entity', 'outcome']) {
        expect(schema, `${dialect} ${column}`).to.match(new RegExp(`ON audit_event \\(${column === 'recorded' ? 'recorded' : `${column}, recorded`}\\)`));
      }
    }
    expect(auditSchema('sqlite')).to.contain('seq INTEGER PRIMARY KEY');
    expect(auditSchema('postgresql')).to.contain('seq BIGSERIAL PRIMARY KEY');
  });
});
