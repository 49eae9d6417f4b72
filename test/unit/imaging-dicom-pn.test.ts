import { expect } from 'chai';
import {
  NAME_REPRESENTATION_EXTENSION_URL,
  formatPersonName,
  parsePersonName,
  personNameToHumanNames,
} from '../../src/resources/imaging/dicom-pn';

describe('imaging: DICOM PN', () => {
  it('maps all five components of the alphabetic group', () => {
    expect(personNameToHumanNames('Doe^John^Albert^Dr.^Jr.')).to.deep.equal([
      { text: 'Dr. John Albert Doe Jr.', family: 'Doe', given: ['John', 'Albert'], prefix: ['Dr.'], suffix: ['Jr.'] },
    ]);
  });

  it('keeps ideographic and phonetic groups as additional names, in order', () => {
    const names = personNameToHumanNames('Yamada^Tarou=山田^太郎=やまだ^たろう');
    expect(names).to.deep.equal([
      { text: 'Tarou Yamada', family: 'Yamada', given: ['Tarou'] },
      { text: '山田 太郎', family: '山田', given: ['太郎'] },
      { text: 'やまだ たろう', family: 'やまだ', given: ['たろう'] },
    ]);
  });

  it('tags the groups with the ISO 21090 extension only when asked', () => {
    const names = personNameToHumanNames('Doe^John==ドウ^ジョン', { representationExtension: true });
    expect(names.map((name) => name.extension)).to.deep.equal([
      [{ url: NAME_REPRESENTATION_EXTENSION_URL, valueCode: 'ABC' }],
      [{ url: NAME_REPRESENTATION_EXTENSION_URL, valueCode: 'SYL' }],
    ]);
    expect(personNameToHumanNames('Doe^John==ドウ^ジョン')[1]).to.not.have.property('extension');
  });

  it('handles a name with no alphabetic group', () => {
    const names = personNameToHumanNames('=山田^花子=やまだ^はなこ');
    expect(names).to.have.length(2);
    expect(names[0]).to.deep.equal({ text: '山田 花子', family: '山田', given: ['花子'] });
  });

  it('leaves out empty components instead of emitting empty strings', () => {
    expect(personNameToHumanNames('Doe^^Q^^Esq.')).to.deep.equal([
      { text: 'Q Doe Esq.', family: 'Doe', given: ['Q'], suffix: ['Esq.'] },
    ]);
    expect(personNameToHumanNames('^John')).to.deep.equal([{ text: 'John', given: ['John'] }]);
  });

  it('gives no name at all for empty values', () => {
    for (const value of [undefined, '', '   ', '^^^^', '==', '^^=^=']) {
      expect(personNameToHumanNames(value), JSON.stringify(value)).to.deep.equal([]);
    }
  });

  it('trims DICOM padding and keeps a single-component name as family', () => {
    expect(personNameToHumanNames(' Doe ^ John ')).to.deep.equal([{ text: 'John Doe', family: 'Doe', given: ['John'] }]);
    expect(personNameToHumanNames('ANONYMOUS')).to.deep.equal([{ text: 'ANONYMOUS', family: 'ANONYMOUS' }]);
  });

  it('does not split a component on spaces', () => {
    expect(personNameToHumanNames('Smith^Mary Ann')[0]?.given).to.deep.equal(['Mary Ann']);
  });

  it('keeps components past the fifth as extra suffixes', () => {
    expect(parsePersonName('A^B^C^D^E^F').alphabetic).to.deep.equal({
      family: 'A',
      given: 'B',
      middle: 'C',
      prefix: 'D',
      suffix: ['E', 'F'],
    });
  });

  it('reads only the first value of a multi-valued attribute', () => {
    expect(personNameToHumanNames('Doe^John\\Roe^Jane')).to.deep.equal([{ text: 'John Doe', family: 'Doe', given: ['John'] }]);
  });

  it('formats a display name from the first group present', () => {
    expect(formatPersonName('Smith^Jane^^Dr.')).to.equal('Dr. Jane Smith');
    expect(formatPersonName('Weiß^Anna')).to.equal('Anna Weiß');
    expect(formatPersonName('=山田^太郎')).to.equal('山田 太郎');
    expect(formatPersonName('')).to.equal(undefined);
    expect(formatPersonName('^^^')).to.equal(undefined);
  });
});
