import { expect } from 'chai';
import { classify, numbered } from '../../src/store/postgres-store';

describe('PostgreSQL store', () => {
  it('numbers the shared statements\' placeholders for PostgreSQL', () => {
    expect(numbered('SELECT 1 FROM t WHERE a = ? AND b IN (?, ?) LIMIT ?')).to.equal('SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3) LIMIT $4');
    expect(numbered("norm LIKE ? ESCAPE '\\'")).to.equal("norm LIKE $1 ESCAPE '\\'");
  });

  it('runs again what lost a race, answers 503 for an unreachable database, and leaves other faults alone', () => {
    // Serialization failure, deadlock, a key inserted meanwhile: a retry sees the other's result.
    for (const code of ['40001', '40P01', '23505']) expect(classify({ code }), code).to.equal('conflict');
    // Connection refused or reset, the server shutting down or starting, too many clients, a statement time-out.
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '53300', '57014']) expect(classify({ code }), code).to.equal('unavailable');
    expect(classify(new Error('Connection terminated unexpectedly'))).to.equal('unavailable');
    expect(classify(new Error('timeout exceeded when trying to connect'))).to.equal('unavailable');
    // A bad statement or a constraint of the data is a fault: never hidden as "try again".
    for (const code of ['42P01', '22P02', '23502']) expect(classify({ code }), code).to.equal('other');
    expect(classify(new TypeError('x is undefined'))).to.equal('other');
    expect(classify(undefined)).to.equal('other');
  });
});
