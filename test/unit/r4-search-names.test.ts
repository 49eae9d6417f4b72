import { expect } from 'chai';
import { queryFromR4, queryToR4, rewriteQueryString, searchNameFromR4, searchNameToR4 } from '../../src/fhir/r4';

describe('R4 view: search parameter names', () => {
  it('renames the codes that differ, per type', () => {
    expect(searchNameToR4('ImagingStudy', 'based-on')).to.equal('basedon');
    expect(searchNameToR4('ImagingStudy', 'body-site')).to.equal('bodysite');
    expect(searchNameToR4('ServiceRequest', 'code-concept')).to.equal('code');
    expect(searchNameToR4('ServiceRequest', 'based-on')).to.equal('based-on');
    expect(searchNameToR4('Task', 'code')).to.equal('code');
    expect(searchNameToR4('ServiceRequest', 'code-reference')).to.equal('code-reference');
    expect(searchNameFromR4('ImagingStudy', 'basedon')).to.equal('based-on');
    expect(searchNameFromR4('ServiceRequest', 'code')).to.equal('code-concept');
    expect(searchNameFromR4('ImagingStudy', 'interpreter')).to.equal('interpreter');
  });

  it('renames names with modifiers, chains and _has, and keeps values', () => {
    const r4: Array<[string, string]> = [
      ['code:text', 'chest'],
      ['code', 'http://loinc.org|24627-2,http://loinc.org|30746-2'],
      ['subject:Patient.name', 'Smith'],
      ['based-on.code', 'x'],
      ['_has:ImagingStudy:basedon:bodysite', 'chest'],
      ['_has:Task:based-on:_has:ImagingStudy:basedon:modality', 'CT'],
      ['_id', 'a,b'],
      ['_count', '10'],
    ];
    const r5 = queryFromR4('ServiceRequest', r4);
    expect(r5).to.deep.equal([
      ['code-concept:text', 'chest'],
      ['code-concept', 'http://loinc.org|24627-2,http://loinc.org|30746-2'],
      ['subject:Patient.name', 'Smith'],
      ['based-on.code-concept', 'x'],
      ['_has:ImagingStudy:based-on:body-site', 'chest'],
      ['_has:Task:based-on:_has:ImagingStudy:based-on:modality', 'CT'],
      ['_id', 'a,b'],
      ['_count', '10'],
    ]);
    expect(queryToR4('ServiceRequest', r5)).to.deep.equal(r4);
  });

  it('follows chains into the type each segment points at', () => {
    // ImagingStudy.basedOn may point to a ServiceRequest (whose R4 code is R5 code-concept) or a Task (whose
    // code is code in both): untyped, the segment is left as it is; typed, it is renamed for that type.
    expect(queryFromR4('ImagingStudy', [['basedon.code', 'x'], ['basedon:ServiceRequest.code:not', 'y'], ['basedon.identifier', 'ACC1']])).to.deep.equal([
      ['based-on.code', 'x'],
      ['based-on:ServiceRequest.code-concept:not', 'y'],
      ['based-on.identifier', 'ACC1'],
    ]);
    expect(queryFromR4('Task', [['focus:ImagingStudy.basedon', 'ServiceRequest/1'], ['patient.name', 'Smith']])).to.deep.equal([
      ['focus:ImagingStudy.based-on', 'ServiceRequest/1'],
      ['patient.name', 'Smith'],
    ]);
    expect(queryFromR4('ImagingStudy', [['basedon:exact', 'x']])).to.deep.equal([['based-on:exact', 'x']]);
  });

  it('renames _include, _revinclude (also :iterate) and _sort values', () => {
    const r4: Array<[string, string]> = [
      ['_include', 'ImagingStudy:basedon'],
      ['_include:iterate', 'ImagingStudy:basedon:ServiceRequest'],
      ['_include', '*'],
      ['_revinclude', 'ImagingStudy:basedon'],
      ['_revinclude:iterate', 'Task:based-on'],
      ['_sort', '-bodysite,started,_lastUpdated'],
    ];
    const r5 = queryFromR4('ImagingStudy', r4);
    expect(r5).to.deep.equal([
      ['_include', 'ImagingStudy:based-on'],
      ['_include:iterate', 'ImagingStudy:based-on:ServiceRequest'],
      ['_include', '*'],
      ['_revinclude', 'ImagingStudy:based-on'],
      ['_revinclude:iterate', 'Task:based-on'],
      ['_sort', '-body-site,started,_lastUpdated'],
    ]);
    expect(queryToR4('ImagingStudy', r5)).to.deep.equal(r4);
  });

  it('rewrites raw query strings, keeping the encoding of what does not change', () => {
    expect(rewriteQueryString('ServiceRequest', 'code=http%3A%2F%2Floinc.org%7C24627-2&_count=5&_include=ServiceRequest%3Asubject', 'R5')).to.equal(
      'code-concept=http%3A%2F%2Floinc.org%7C24627-2&_count=5&_include=ServiceRequest%3Asubject',
    );
    expect(rewriteQueryString('ImagingStudy', '_revinclude=ImagingStudy%3Abased-on&_sort=-based-on', 'R4')).to.equal(
      '_revinclude=ImagingStudy:basedon&_sort=-basedon',
    );
    expect(rewriteQueryString('Patient', 'bad=%E0%A4%A', 'R5')).to.equal('bad=%E0%A4%A');
  });
});
