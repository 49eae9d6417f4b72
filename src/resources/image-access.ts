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
  patients: string[];
  at: number;
}

export class ImageAccess {
  private readonly cache = new Lru<string, Cached>(1 << 20, (entry) => 160 + 2 * entry.patients.join().length);

  constructor(private readonly orthanc: OrthancClient) {}

  /**
   * The Patient ids of the images `uid` names at `level`: Orthanc keeps a
   * study per PatientID, so one StudyInstanceUID may be under several
   * patients. Empty when Orthanc has none.
   */
  async patientsOf(level: UidLevel, uid: string): Promise<string[]> {
    const key = `${level} ${uid}`;
    const cached = this.cache.get(key);
    if (cached && Date.now() - cached.at < TTL_MS) return cached.patients;
    const patients = await this.lookup(level, uid);
    // Only what exists is kept: a study stored a moment later is found at once.
    if (patients.length > 0) this.cache.set(key, { patients, at: Date.now() });
    return patients;
  }

  /** Whether every image `uid` names is Patient `patient`'s (and there is one). */
  async onlyOf(level: UidLevel, uid: string, patient: string): Promise<boolean> {
    const patients = await this.patientsOf(level, uid);
    return patients.length > 0 && patients.every((p) => p === patient);
  }

  /** Whether a DICOM PatientID is that of Patient `patient`: Orthanc names patients after their PatientID. */
  static isPatientId(patientId: string, patient: string): boolean {
    return orthancPatientId(patientId) === patient;
  }

  private async lookup(level: UidLevel, uid: string): Promise<string[]> {
    const answer = await this.orthanc.call('POST', '/tools/lookup', uid);
    if (answer.status !== 200) return [];
    const found = (JSON.parse(answer.body.toString('utf8')) as Array<{ Type?: string; ID?: string }>).filter((r) => r.Type === level && r.ID);
    const patients = await Promise.all(found.map(async ({ ID }) => level === 'Study'
      ? (await this.orthanc.getJson<{ ParentPatient?: string }>(`/studies/${ID}`))?.ParentPatient
      : (await this.orthanc.getJson<{ ID?: string }>(`/${PLURAL[level]}/${ID}/patient`))?.ID));
    return [...new Set(patients.filter((p): p is string => p !== undefined))];
  }
}
