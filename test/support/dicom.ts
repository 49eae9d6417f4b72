// Real DICOM files, made with dcmtk's dump2dcm from a textual dump, and sent
// with storescu as a modality would. Used by the tests and the demo data.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface InstanceSpec {
  patientId: string;
  patientName?: string;
  issuerOfPatientId?: string;
  birthDate?: string;
  sex?: string;
  studyUid: string;
  studyDate?: string;
  studyTime?: string;
  timezoneOffset?: string;
  studyDescription?: string;
  accessionNumber?: string;
  referringPhysician?: string;
  procedureCode?: { value: string; scheme: string; meaning: string };
  seriesUid: string;
  seriesNumber?: number;
  seriesDescription?: string;
  modality: string;
  bodyPart?: string;
  laterality?: string;
  sopInstanceUid: string;
  sopClassUid?: string;
  instanceNumber?: number;
  /** Side of the square image (default 4): the demo's previews use a larger one. */
  imageSize?: number;
}

/** A size x size 8-bit image: rings whose phase moves with the instance number, so that series look apart. */
function pixels(size: number, phase: number): string {
  const values: string[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - size / 2, y - size / 2);
      const v = r > size / 2 ? 0 : Math.round(127 + 120 * Math.cos(r / 3 + phase));
      values.push(v.toString(16).padStart(2, '0'));
    }
  }
  return values.join('\\');
}

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

let counter = 0;
/** A fresh UID under the 2.25 (UUID-derived) root. */
export function newUid(): string {
  counter += 1;
  const random = BigInt(`0x${[...Array(24)].map(() => Math.floor(Math.random() * 16).toString(16)).join('')}`);
  return `2.25.${(random + BigInt(counter)).toString()}`;
}

function line(tag: string, vr: string, value: string | number | undefined): string {
  return value === undefined || value === '' ? '' : `(${tag}) ${vr} [${value}]\n`;
}

export function dump(spec: InstanceSpec): string {
  let text = '';
  text += line('0008,0005', 'CS', 'ISO_IR 192');
  text += line('0008,0016', 'UI', spec.sopClassUid ?? CT_IMAGE_STORAGE);
  text += line('0008,0018', 'UI', spec.sopInstanceUid);
  text += line('0008,0020', 'DA', spec.studyDate);
  text += line('0008,0030', 'TM', spec.studyTime);
  text += line('0008,0050', 'SH', spec.accessionNumber ?? '');
  text += line('0008,0060', 'CS', spec.modality);
  text += line('0008,0090', 'PN', spec.referringPhysician);
  text += line('0008,0201', 'SH', spec.timezoneOffset);
  text += line('0008,1030', 'LO', spec.studyDescription);
  text += line('0008,103e', 'LO', spec.seriesDescription);
  if (spec.procedureCode) {
    text += '(0008,1032) SQ (Sequence with explicit length #=1)\n';
    text += '  (fffe,e000) na (Item with explicit length #=3)\n';
    text += `    ${line('0008,0100', 'SH', spec.procedureCode.value)}`;
    text += `    ${line('0008,0102', 'SH', spec.procedureCode.scheme)}`;
    text += `    ${line('0008,0104', 'LO', spec.procedureCode.meaning)}`;
    text += '  (fffe,e00d) na (ItemDelimitationItem)\n';
    text += '(fffe,e0dd) na (SequenceDelimitationItem)\n';
  }
  text += line('0010,0010', 'PN', spec.patientName);
  text += line('0010,0020', 'LO', spec.patientId);
  text += line('0010,0021', 'LO', spec.issuerOfPatientId);
  text += line('0010,0030', 'DA', spec.birthDate);
  text += line('0010,0040', 'CS', spec.sex);
  text += line('0018,0015', 'CS', spec.bodyPart);
  text += line('0020,000d', 'UI', spec.studyUid);
  text += line('0020,000e', 'UI', spec.seriesUid);
  text += line('0020,0011', 'IS', spec.seriesNumber);
  text += line('0020,0013', 'IS', spec.instanceNumber);
  text += line('0020,0060', 'CS', spec.laterality);
  // A tiny monochrome image (4x4 unless asked), so that viewers have something to show.
  text += line('0028,0002', 'US', 1);
  text += line('0028,0004', 'CS', 'MONOCHROME2');
  const size = spec.imageSize ?? 4;
  text += line('0028,0010', 'US', size);
  text += line('0028,0011', 'US', size);
  text += line('0028,0100', 'US', 8);
  text += line('0028,0101', 'US', 8);
  text += line('0028,0102', 'US', 7);
  text += line('0028,0103', 'US', 0);
  text += size === 4
    ? `(7fe0,0010) OB ${[...Array(16)].map((_, i) => (i * 16).toString(16).padStart(2, '0')).join('\\')}\n`
    : `(7fe0,0010) OB ${pixels(size, (spec.instanceNumber ?? 0) + (spec.seriesNumber ?? 0) * 2)}\n`;
  return text;
}

/** Writes one DICOM file per spec with dump2dcm; returns their paths. */
export function makeDicomFiles(specs: InstanceSpec[], dir = mkdtempSync(join(tmpdir(), 'orthanc-fhir-dicom-'))): string[] {
  return specs.map((spec, index) => {
    const dumpFile = join(dir, `${index}.dump`);
    const dicomFile = join(dir, `${index}.dcm`);
    writeFileSync(dumpFile, dump(spec));
    execFileSync('dump2dcm', ['--write-file', '--update-meta-info', '--line', '200000', dumpFile, dicomFile], { stdio: 'pipe' });
    return dicomFile;
  });
}

/** Sends files to Orthanc's DICOM port with storescu, as a modality would. */
export function storescu(port: number, files: string[], calledAet = 'ORTHANC'): void {
  execFileSync('storescu', ['-aec', calledAet, '-aet', 'MODALITY', '127.0.0.1', String(port), ...files], {
    stdio: 'pipe',
    timeout: 60000,
  });
}
