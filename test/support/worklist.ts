// dcmtk's findscu as the modality: a Modality Worklist C-FIND whose answers
// are written as DICOM files (-X) and read back with dcm2json.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

/** Attribute tags used by the tests, by keyword. */
export const TAGS: Record<string, string> = {
  SpecificCharacterSet: '00080005', AccessionNumber: '00080050', Modality: '00080060',
  ReferringPhysicianName: '00080090', PatientName: '00100010', PatientID: '00100020', IssuerOfPatientID: '00100021',
  PatientBirthDate: '00100030', PatientSex: '00100040', StudyInstanceUID: '0020000D', RequestingPhysician: '00321032',
  RequestedProcedureDescription: '00321060', RequestedProcedureCodeSequence: '00321064',
  ScheduledStationAETitle: '00400001', ScheduledProcedureStepStartDate: '00400002',
  ScheduledProcedureStepStartTime: '00400003', ScheduledProcedureStepDescription: '00400007',
  ScheduledProcedureStepID: '00400009', ScheduledProcedureStepSequence: '00400100', RequestedProcedureID: '00401001',
  CodeValue: '00080100',
};

export type WorklistAnswer = Record<string, unknown>;

/** Flattens a DICOM JSON dataset to keyword -> string (PN: alphabetic=ideographic=phonetic), sequences to arrays. */
function simplify(dataset: DicomJson): WorklistAnswer {
  const byTag = Object.fromEntries(Object.entries(TAGS).map(([keyword, tag]) => [tag, keyword]));
  const result: WorklistAnswer = {};
  for (const [tag, element] of Object.entries(dataset)) {
    const keyword = byTag[tag.toUpperCase()] ?? tag;
    const values = element.Value ?? [];
    if (element.vr === 'SQ') {
      result[keyword] = values.map((item) => simplify(item as DicomJson));
    } else if (element.vr === 'PN') {
      const name = values[0] as { Alphabetic?: string; Ideographic?: string; Phonetic?: string } | undefined;
      result[keyword] = name ? [name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''].join('=').replace(/=+$/, '') : '';
    } else {
      result[keyword] = values.length > 0 ? String(values[0]) : '';
    }
  }
  return result;
}

/**
 * Runs findscu -W with keys like 'PatientName=Mül*' or
 * 'ScheduledProcedureStepSequence[0].Modality=CT' and returns the answers.
 */
export function findWorklist(port: number, keys: string[], callingAet = 'MODALITY'): WorklistAnswer[] {
  const dir = mkdtempSync(join(tmpdir(), 'findscu-'));
  try {
    const args = ['-W', '-aet', callingAet, '-aec', 'ORTHANC', '-X', '-od', dir, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)];
    execFileSync('findscu', args, { stdio: 'pipe', timeout: 60000 });
    return readdirSync(dir).filter((f) => f.startsWith('rsp')).sort().map((file) => {
      const json = execFileSync('dcm2json', [join(dir, file)], { encoding: 'utf8' });
      return simplify(JSON.parse(json) as DicomJson);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
