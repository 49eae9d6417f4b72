import { expect } from 'chai';
import { dayRange } from '../../src/http/pages/day-range';
import { dateTimeText, modalitiesOf, stationOf } from '../../src/http/pages/fhir-values';
import { previewInstance } from '../../src/resources/image-previews';
import type { OrthancSeries } from '../../src/resources/imaging/orthanc-types';
import type { Bundle } from '../../src/fhir/types';
import { worklistDate, worklistOperation } from '../../src/worklist/worklist-operation';
import type { WorklistService } from '../../src/worklist/worklist-service';

describe('page parts', () => {
  const zone = process.env.TZ;
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  it("makes 'today' a started= range of the local day, with each midnight's own offset (DST)", () => {
    process.env.TZ = 'Europe/Brussels';
    // The day DST starts in Brussels: midnight is +01:00, the next one +02:00.
    expect(dayRange(new Date('2024-03-31T12:00:00Z'), 1)).to.deep.equal([
      ['started', 'ge2024-03-31T00:00:00+01:00'], ['started', 'lt2024-04-01T00:00:00+02:00']]);
    // 23:30 UTC on 15 January is already the 16th in Brussels.
    expect(dayRange(new Date('2024-01-15T23:30:00Z'), 7, 'local')[0]).to.deep.equal(['started', 'ge2024-01-10T00:00:00+01:00']);
    expect(dayRange(new Date('2024-01-15T23:30:00Z'), 1, '-05:00')).to.deep.equal([
      ['started', 'ge2024-01-15T00:00:00-05:00'], ['started', 'lt2024-01-16T00:00:00-05:00']]);
    expect(dayRange(new Date('2024-01-15T23:30:00Z'), 1, 'none')).to.deep.equal([['started', '2024-01-15']]);
  });

  it('reads a worklist day and refuses what is not one', () => {
    expect(worklistDate(undefined, '2024-02-29')).to.equal('20240229');
    expect(worklistDate('2030-06-01', '2024-02-29')).to.equal('20300601');
    for (const bad of ['2023-02-29', '20240101', '2024-1-1', 'today']) expect(() => worklistDate(bad, '2024-01-01'), bad).to.throw(/YYYY-MM-DD/);
  });

  it("previews a series' middle instance, the first series by number without a UID", () => {
    const series = (uid: string, number: string, instances: string[]): OrthancSeries =>
      ({ ID: uid, ParentStudy: 's', MainDicomTags: { SeriesInstanceUID: uid, SeriesNumber: number }, Instances: instances });
    const all = [series('1.2', '2', ['a', 'b', 'c']), series('1.1', '10', ['d']), series('1.0', '1', [])];
    expect(previewInstance(all, '1.2')).to.equal('b');
    expect(previewInstance(all)).to.equal('b');
    expect(previewInstance([all[1]!, all[2]!])).to.equal('d');
    expect(previewInstance(all, '9.9')).to.equal(undefined);
    expect(previewInstance(all, '1.0')).to.equal(undefined);
  });

  it('shows times as a person reads them, and the station of a Task', () => {
    expect(dateTimeText('2024-01-31T10:15:00+01:00')).to.equal('2024-01-31 10:15 +01:00');
    expect(dateTimeText('2024-01-31T10:15:30.5Z')).to.equal('2024-01-31 10:15:30 UTC');
    expect(dateTimeText('2024-01')).to.equal('2024-01');
    expect(stationOf({ resourceType: 'Task', requestedPerformer: [{ reference: { identifier: { value: 'MR01' } } }] })).to.equal('MR01');
    expect(stationOf({ resourceType: 'Task', owner: { display: 'CT 1' } })).to.equal('CT 1');
  });
});

describe('$worklist', () => {
  const step = (id: string) => ({ task: { resourceType: 'Task', id }, order: { resourceType: 'ServiceRequest', id: `o${id}` }, patient: undefined, item: {} });
  const service = { day: async () => [step('1'), step('2'), step('3')] } as unknown as WorklistService;
  const invoke = (query: Array<[string, string]>, maxCount = 2) =>
    worklistOperation(service, () => '2024-01-15', maxCount).invoke({ baseUrl: 'http://pacs/fhir', query, lenient: false });

  it('answers at most MaxCount steps, with the total and a warning naming what was left out', async () => {
    const { resource } = await invoke([['station', 'CT01']]);
    const bundle = resource as Bundle;
    expect(bundle.total).to.equal(3);
    expect(bundle.entry!.filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id)).to.deep.equal(['1', '2']);
    expect(bundle.entry!.filter((e) => e.search?.mode === 'outcome')).to.have.length(1);
    expect(bundle.link![0]!.url).to.equal('http://pacs/fhir/$worklist?date=2024-01-15&station=CT01');
    const whole = (await invoke([], 10)).resource as Bundle;
    expect(whole.entry!.filter((e) => e.search?.mode === 'outcome')).to.have.length(0);
  });

  it('refuses unknown parameters, a repeated one, and values that are no AE title or modality', async () => {
    for (const query of [[['patient', 'x']], [['station', 'A'], ['station', 'B']], [['station', 'A\\B']], [['modality', 'ct;']]] as Array<Array<[string, string]>>) {
      let status = 0;
      await invoke(query).catch((error: { status: number }) => { status = error.status; });
      expect(status, JSON.stringify(query)).to.equal(400);
    }
  });
});

describe('page values in R4', () => {
  it("reads an R4 study's modalities (Codings) as an R5 one's (CodeableConcepts)", () => {
    expect(modalitiesOf({ resourceType: 'ImagingStudy', modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }] })).to.deep.equal(['CT']);
    expect(modalitiesOf({ resourceType: 'ImagingStudy', modality: [{ coding: [{ code: 'MR' }] }, { coding: [{ code: 'MR' }] }] })).to.deep.equal(['MR']);
  });
});
