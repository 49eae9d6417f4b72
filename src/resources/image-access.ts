// Whose images a DICOM UID names: the FHIR Patient id (Orthanc's patient
// id, see patient-identity.ts) of a study, series or instance, read from
// Orthanc. The request filter asks it before a patient-context token may
// reach a DICOMweb URL. Answers are cached, bounded by bytes: a viewer asks
// about the same study for each of its instances.
import { OrthancClient } from '../orthanc/client';
import { Lru } from '../orthanc/lru';
import { orthancPatientId } from './patient-identity';

export type UidLevel = 'Study' | 'Series' | 'Instance';

const PLURAL: Readonly<Record<UidLevel, string>> = { Study: 'studies', Series: 'series', Instance: 'instances' };
/** How long an answer is trusted: a UID's patient changes only if its images are deleted and stored again under another patient. */
const TTL_MS = 60_000;

interface Cached {
  patient: string;
  at: number;
}

export class ImageAccess {
  private readonly cache = new Lru<string, Cached>(1 << 20, (entry) => 160 + 2 * entry.patient.length);

  constructor(private readonly orthanc: OrthancClient) {}

  /** The Patient id of the images `uid` names at `level`; undefined when Orthanc has none. */
  async patientOf(level: UidLevel, uid: string): Promise<string | undefined> {
    const key = `${level} ${uid}`;
    const cached = this.cache.get(key);
    if (cached && Date.now() - cached.at < TTL_MS) return cached.patient;
    const patient = await this.lookup(level, uid);
    // Only what exists is kept: a study stored a moment later is found at once.
    if (patient !== undefined) this.cache.set(key, { patient, at: Date.now() });
    return patient;
  }

  /** Whether a DICOM PatientID is that of Patient `patient`: Orthanc names patients after their PatientID. */
  static isPatientId(patientId: string, patient: string): boolean {
    return orthancPatientId(patientId) === patient;
  }

  private async lookup(level: UidLevel, uid: string): Promise<string | undefined> {
    const answer = await this.orthanc.call('POST', '/tools/lookup', uid);
    if (answer.status !== 200) return undefined;
    const found = (JSON.parse(answer.body.toString('utf8')) as Array<{ Type?: string; ID?: string }>).find((r) => r.Type === level);
    if (!found?.ID) return undefined;
    if (level === 'Study') return (await this.orthanc.getJson<{ ParentPatient?: string }>(`/studies/${found.ID}`))?.ParentPatient;
    return (await this.orthanc.getJson<{ ID?: string }>(`/${PLURAL[level]}/${found.ID}/patient`))?.ID;
  }
}
