// The previews of the pages: Orthanc renders an instance
// (GET /instances/{id}/preview); which one is the middle instance of the
// series, looked up from the study in one call, so that no page needs the
// study's instances listed (search results do not list them). Served
// through /fhir, behind its own credentials, so a page's images are exactly
// those its reader may read.
import type { OrthancClient } from '../orthanc/client';
import type { DicomIndex } from '../orthanc/dicom-index';
import type { OrthancSeries } from './imaging/orthanc-types';

/** An Orthanc resource id: a SHA-1 in five groups of eight hexadecimal digits. */
const ORTHANC_ID = /^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/;

function seriesNumber(series: OrthancSeries): number {
  const tag = series.MainDicomTags?.SeriesNumber;
  const value = typeof tag === 'string' ? Number.parseInt(tag, 10) : Number.NaN;
  return Number.isFinite(value) ? value : Number.MAX_SAFE_INTEGER;
}

/** The instance to show for `seriesUid` of the study (its first series, by number, when none); undefined when there is none. */
export function previewInstance(series: readonly OrthancSeries[], seriesUid?: string): string | undefined {
  const chosen = seriesUid === undefined
    ? [...series].filter((s) => s.Instances.length > 0).sort((a, b) => seriesNumber(a) - seriesNumber(b))[0]
    : series.find((s) => s.MainDicomTags?.SeriesInstanceUID === seriesUid);
  const instances = chosen?.Instances ?? [];
  return instances[Math.floor(instances.length / 2)];
}

export class ImagePreviews {
  constructor(private readonly index: Pick<DicomIndex, 'studySeries'>, private readonly orthanc: OrthancClient) {}

  /** The Orthanc id of the instance to preview for a study (ImagingStudy id) and one of its series. */
  async instanceOf(studyId: string, seriesUid?: string): Promise<string | undefined> {
    if (!ORTHANC_ID.test(studyId)) return undefined;
    return previewInstance(await this.index.studySeries(studyId), seriesUid);
  }

  /** Orthanc's rendering of a study's series (JPEG), undefined when it has no image to render. */
  async image(studyId: string, seriesUid?: string): Promise<{ contentType: string; body: Buffer } | undefined> {
    const instance = await this.instanceOf(studyId, seriesUid);
    if (instance === undefined) return undefined;
    const answer = await this.orthanc.call('GET', `/instances/${instance}/preview`, undefined, { accept: 'image/jpeg' });
    if (answer.status !== 200) return undefined;
    return { contentType: answer.headers['content-type'] ?? answer.headers['Content-Type'] ?? 'image/jpeg', body: answer.body };
  }
}
