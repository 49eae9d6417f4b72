// _summary and _elements: which elements a subset keeps, from the official
// StructureDefinitions (isSummary, min >= 1), and the SUBSETTED tag.
import { expect } from 'chai';
import { OperationOutcomeError } from '../../src/fhir/outcome';
import { readSubset, subset, SUBSETTED } from '../../src/search/subset';

const order = {
  resourceType: 'ServiceRequest', id: 's1', meta: { versionId: '2' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">CT chest</div>' },
  status: 'active', intent: 'order', subject: { reference: 'Patient/p' },
  code: { concept: { text: 'CT chest' } }, note: [{ text: 'no contrast' }], patientInstruction: [{ instructionMarkdown: 'Fast' }],
};

describe('subsets (_summary, _elements)', () => {
  it('_summary=true keeps the summary and mandatory elements, drops the others, and tags SUBSETTED', () => {
    const summary = subset(order, { summary: 'true' });
    expect(Object.keys(summary)).to.deep.equal(['resourceType', 'id', 'meta', 'status', 'intent', 'subject', 'code']);
    expect(summary.meta!.tag).to.deep.equal([SUBSETTED]);
    expect(summary.meta!.versionId).to.equal('2');
    expect(order).not.to.have.nested.property('meta.tag'); // the input is left alone
  });

  it('_summary=text keeps the narrative and the mandatory elements; data drops the narrative; false keeps all', () => {
    expect(Object.keys(subset(order, { summary: 'text' })).sort()).to.deep.equal(['id', 'intent', 'meta', 'resourceType', 'status', 'subject', 'text']);
    expect(subset(order, { summary: 'data' })).not.to.have.property('text');
    expect(subset(order, { summary: 'data' })).to.have.property('note');
    expect(subset(order, { summary: 'false' })).to.equal(order);
  });

  it('_elements keeps what is named, mandatory elements too; Type.element applies to that type only', () => {
    expect(Object.keys(subset(order, { elements: ['note'] })).sort()).to.deep.equal(['id', 'intent', 'meta', 'note', 'resourceType', 'status', 'subject']);
    const patient = { resourceType: 'Patient', id: 'p', name: [{ family: 'Doe' }], birthDate: '1970' };
    // Included resources of a type _elements does not name come whole.
    expect(subset(patient, { elements: ['note'] }, 'ServiceRequest')).to.equal(patient);
    expect(Object.keys(subset(patient, { elements: ['Patient.name'] }, 'ServiceRequest')).sort()).to.deep.equal(['id', 'meta', 'name', 'resourceType']);
  });

  it('reads _summary and _elements of a read, refusing bad values', () => {
    expect(readSubset([])).to.equal(undefined);
    expect(readSubset([['_summary', 'true']])).to.deep.equal({ summary: 'true' });
    expect(readSubset([['_elements', 'status, note']])).to.deep.equal({ elements: ['status', 'note'] });
    expect(() => readSubset([['_summary', 'count']])).to.throw(OperationOutcomeError);
    expect(() => readSubset([['_elements', 'a.b']])).to.throw(OperationOutcomeError);
  });
});
