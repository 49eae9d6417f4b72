// The data of bench/scale.ts, as pure functions of an index: order n (its
// patient, station, day, status) and study s (its patient, modality, date,
// series) are the same in every run, so a kept data folder can be grown or
// resumed, picks can be drawn from what exists, and expected answer counts
// computed without asking the server. Also a small DICOM writer (explicit VR
// little endian) for the studies: tens of microseconds an instance, where
// dcmjs takes about a millisecond; selfCheck() reads one back with dcmjs.
import dcmjs from 'dcmjs';
import { createHash } from 'node:crypto';

/** A 32-bit hash of (n, salt): murmur3's finalizer. */
export function hash(n: number, salt: number): number {
  let x = (Math.imul(n, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: the seeded generator of the picks. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Orthanc's id of a resource: SHA-1 of PatientID[|StudyInstanceUID[|SeriesInstanceUID[|SOPInstanceUID]]], 5 x 8 hex digits. */
export function orthancId(...parts: string[]): string {
  const hex = createHash('sha1').update(parts.join('|')).digest('hex');
  return hex.match(/.{8}/g)!.join('-');
}

// Names: common ones from several countries, a few not ASCII.
const FAMILY = ['Smith', 'Müller', 'Martin', 'Dupont', 'García', 'Rossi', 'Jansen', 'Kowalski', 'Nielsen', 'Novak',
  'Schmidt', 'Bernard', 'Fernández', 'Bianchi', 'de Vries', 'Nowak', 'Hansen', 'Svoboda', 'Johnson', 'Weber',
  'Moreau', 'López', 'Romano', 'Peeters', 'Lewandowski', 'Larsen', 'Dvořák', 'Williams', 'Wagner', 'Laurent',
  'Martínez', 'Colombo', 'Claes', 'Wójcik', 'Pedersen', 'Horák', 'Brown', 'Becker', 'Simon', 'Sánchez',
  'Ricci', 'Maes', 'Kamińska', 'Andersen', 'Černý', 'Jones', 'Hoffmann', 'Michel', 'Pérez', 'Marino'];
const GIVEN = ['Anna', 'Thomas', 'Maria', 'Peter', 'Sophie', 'Lukas', 'Emma', 'Jan', 'Julia', 'Paul',
  'Léa', 'Hugo', 'Lucía', 'Mateo', 'Giulia', 'Marco', 'Eva', 'Daan', 'Zofia', 'Jakub', 'Ida', 'Oscar',
  'Tereza', 'Tomáš', 'Olivia', 'James', 'Hannah', 'Felix', 'Chloé', 'Louis', 'Carmen', 'Pablo', 'Chiara',
  'Luca', 'Fleur', 'Sem', 'Maja', 'Piotr', 'Freja', 'William', 'Klára', 'Jiří', 'Grace', 'George',
  'Lena', 'Noah', 'Inès', 'Arthur', 'Elena', 'Diego', 'Sara', 'Matteo', 'Lotte', 'Finn', 'Alicja',
  'Kacper', 'Astrid', 'Magnus', 'Vendula', 'Ondřej'];

export interface Person {
  patientId: string;
  family: string;
  given: string;
  gender: 'male' | 'female';
  /** YYYY-MM-DD */
  birthDate: string;
}

function person(prefix: string, p: number, salt: number): Person {
  return {
    patientId: `${prefix}${pad(p, 7)}`,
    family: FAMILY[hash(p, salt) % FAMILY.length]!,
    given: GIVEN[hash(p, salt + 1) % GIVEN.length]!,
    gender: hash(p, salt + 2) % 2 === 0 ? 'female' : 'male',
    birthDate: ymd(Date.UTC(1930, 0, 1) + (hash(p, salt + 3) % 29000) * 86400000),
  };
}

/** The first 3 letters of a given name: what a user types. */
export const givenPrefix = (given: string) => [...given].slice(0, 3).join('');

// --- orders --------------------------------------------------------------

export const ACCESSION_SYSTEM = 'urn:oid:2.25.42';
/** Task.identifier: the scheduled procedure step id the RIS gives. */
export const STEP_ID_SYSTEM = 'urn:oid:2.25.42.1';
export const ORDERS_PER_PATIENT = 5;
export const STATIONS: ReadonlyArray<{ ae: string; modality: string }> = [
  { ae: 'CT01', modality: 'CT' }, { ae: 'CT02', modality: 'CT' }, { ae: 'MR01', modality: 'MR' }, { ae: 'MR02', modality: 'MR' },
  { ae: 'CR01', modality: 'CR' }, { ae: 'CR02', modality: 'CR' }, { ae: 'US01', modality: 'US' }, { ae: 'US02', modality: 'US' },
  { ae: 'MG01', modality: 'MG' }, { ae: 'NM01', modality: 'NM' },
];
export const PROCEDURES: Record<string, { code: string; display: string }> = {
  CT: { code: '24627-2', display: 'CT Chest' },
  MR: { code: '24590-2', display: 'MR Brain' },
  CR: { code: '36643-5', display: 'XR Chest 2 Views' },
  US: { code: '24558-9', display: 'US Abdomen' },
  MG: { code: '24606-6', display: 'MG Breast Screening' },
  NM: { code: '39632-5', display: 'NM Bone Scan' },
  DX: { code: '36643-5', display: 'XR Chest 2 Views' },
  PT: { code: '44136-0', display: 'PET/CT Whole Body' },
};
const ORDER_FIRST_DAY = Date.UTC(2025, 0, 1);
export const ORDER_DAYS = 365;

export interface Order {
  n: number;
  /** Patient index: ORDERS_PER_PATIENT consecutive orders each. */
  patient: number;
  station: string;
  modality: string;
  /** YYYYMMDD, as the worklist has it. */
  date: string;
  /** The scheduled start (FHIR instant, UTC). */
  start: string;
  authoredOn: string;
  /** 10% of the Tasks still requested (on the worklist), the rest completed. */
  requested: boolean;
  accession: string;
  stepId: string;
}

export function order(n: number): Order {
  const station = STATIONS[hash(n, 11) % STATIONS.length]!;
  const day = hash(n, 12) % ORDER_DAYS;
  const slot = hash(n, 13) % 48; // 07:00 .. 18:45, every 15 minutes
  const at = ORDER_FIRST_DAY + day * 86400000 + (7 * 60 + slot * 15) * 60000;
  const start = new Date(at).toISOString().replace('.000Z', 'Z');
  return {
    n, patient: Math.floor(n / ORDERS_PER_PATIENT), station: station.ae, modality: station.modality,
    date: start.slice(0, 10).replace(/-/g, ''), start,
    authoredOn: new Date(at - (1 + (hash(n, 14) % 20)) * 86400000).toISOString().replace('.000Z', 'Z'),
    requested: hash(n, 15) % 10 === 0,
    accession: `ACC${pad(n, 8)}`,
    stepId: `SPS${pad(n, 8)}`,
  };
}

export const orderPatient = (p: number): Person => person('RIS', p, 21);

// --- studies -------------------------------------------------------------

export const STUDIES_PER_PATIENT = 3;
/** Skewed: NM is 1% of the studies. */
const MODALITY_WEIGHTS: ReadonlyArray<[string, number]> = [['CT', 30], ['MR', 20], ['CR', 18], ['US', 14], ['DX', 10], ['MG', 5], ['PT', 2], ['NM', 1]];
export const RARE_MODALITY = 'NM';
const SOP_CLASSES: Record<string, string> = {
  CT: '1.2.840.10008.5.1.4.1.1.2', MR: '1.2.840.10008.5.1.4.1.1.4', CR: '1.2.840.10008.5.1.4.1.1.1',
  US: '1.2.840.10008.5.1.4.1.1.6.1', DX: '1.2.840.10008.5.1.4.1.1.1.1', MG: '1.2.840.10008.5.1.4.1.1.1.2',
  PT: '1.2.840.10008.5.1.4.1.1.128', NM: '1.2.840.10008.5.1.4.1.1.20',
};
const STUDY_FIRST_DAY = Date.UTC(2000, 0, 1);
/** 2000-01-01 .. 2024-12-31 */
export const STUDY_DAYS = 9132;
const UID_ROOT = '1.2.826.0.1.3680043.10.999.71';

export interface Study {
  s: number;
  person: Person;
  uid: string;
  accession: string;
  modality: string;
  /** Days since 2000-01-01. */
  day: number;
  /** YYYYMMDD */
  date: string;
  time: string;
  /** 1 to 3 series of one instance each. */
  series: number;
  description: string;
}

function modalityOf(s: number): string {
  let x = hash(s, 31) % 100;
  for (const [modality, weight] of MODALITY_WEIGHTS) {
    if (x < weight) return modality;
    x -= weight;
  }
  return 'CT';
}

export function study(s: number): Study {
  const day = hash(s, 32) % STUDY_DAYS;
  const modality = modalityOf(s);
  const seconds = 7 * 3600 + (hash(s, 33) % (12 * 3600));
  return {
    s, person: person('IMG', Math.floor(s / STUDIES_PER_PATIENT), 41), uid: `${UID_ROOT}.${s}`,
    accession: `SA${pad(s, 8)}`, modality, day,
    date: ymd(STUDY_FIRST_DAY + day * 86400000).replace(/-/g, ''),
    time: `${pad(Math.floor(seconds / 3600), 2)}${pad(Math.floor(seconds / 60) % 60, 2)}${pad(seconds % 60, 2)}`,
    series: 1 + (hash(s, 34) % 3), description: PROCEDURES[modality]!.display,
  };
}

/** Studies for the orders' folder: the patients and accession numbers of orders 0, 5, 10, ... */
export function orderStudy(i: number): Study {
  const o = order(i * ORDERS_PER_PATIENT);
  const day = Math.floor((Date.parse(o.start) - STUDY_FIRST_DAY) / 86400000);
  return {
    s: i, person: orderPatient(o.patient), uid: `${UID_ROOT}.9.${i}`, accession: o.accession, modality: o.modality, day,
    date: o.date, time: o.start.slice(11, 19).replace(/:/g, ''), series: 2, description: PROCEDURES[o.modality]!.display,
  };
}

export const studyDate = (day: number) => ymd(STUDY_FIRST_DAY + day * 86400000);

export interface Instance {
  study: Study;
  /** 1-based series number. */
  series: number;
  seriesUid: string;
  sopUid: string;
  /** Orthanc's ids, computed (checked against the first upload's answer). */
  id: string;
  studyId: string;
}

export function instances(study: Study): Instance[] {
  const studyId = orthancId(study.person.patientId, study.uid);
  return Array.from({ length: study.series }, (_, k) => {
    const seriesUid = `${study.uid}.${k + 1}`;
    const sopUid = `${seriesUid}.1`;
    return { study, series: k + 1, seriesUid, sopUid, studyId, id: orthancId(study.person.patientId, study.uid, seriesUid, sopUid) };
  });
}

export const studyId = (study: Study) => orthancId(study.person.patientId, study.uid);
export const patientOrthancId = (person: Person) => orthancId(person.patientId);

// --- DICOM (Part 10, explicit VR little endian) -------------------------------

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR']);
const PIXELS = Buffer.alloc(16 * 16, 0);
for (let i = 0; i < PIXELS.length; i++) PIXELS[i] = (i * 7) % 256;

function element(tag: number, vr: string, value: string | number | Buffer): Buffer {
  let data: Buffer;
  if (typeof value === 'number') {
    data = Buffer.alloc(vr === 'UL' ? 4 : 2);
    if (vr === 'UL') data.writeUInt32LE(value);
    else data.writeUInt16LE(value);
  } else {
    data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (data.length % 2 === 1) data = Buffer.concat([data, Buffer.from(vr === 'UI' || vr === 'OB' ? [0] : [0x20])]);
  }
  const long = LONG_VRS.has(vr);
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(data.length, 8);
  else head.writeUInt16LE(data.length, 6);
  return Buffer.concat([head, data]);
}

const PREAMBLE = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1')]);

/** One instance: a 16 x 16 8-bit image. */
export function encodeInstance(instance: Instance): Buffer {
  const { study } = instance;
  const sopClass = SOP_CLASSES[study.modality] ?? SOP_CLASSES.CT!;
  const meta = Buffer.concat([
    element(0x00020001, 'OB', Buffer.from([0, 1])),
    element(0x00020002, 'UI', sopClass),
    element(0x00020003, 'UI', instance.sopUid),
    element(0x00020010, 'UI', '1.2.840.10008.1.2.1'),
    element(0x00020012, 'UI', '1.2.826.0.1.3680043.10.999.71.0'),
  ]);
  const elements: Array<[number, string, string | number | Buffer]> = [
    [0x00080005, 'CS', 'ISO_IR 192'],
    [0x00080016, 'UI', sopClass],
    [0x00080018, 'UI', instance.sopUid],
    [0x00080020, 'DA', study.date],
    [0x00080021, 'DA', study.date],
    [0x00080030, 'TM', study.time],
    [0x00080050, 'SH', study.accession],
    [0x00080060, 'CS', study.modality],
    [0x00080090, 'PN', 'Referrer^Rita'],
    [0x00081030, 'LO', study.description],
    [0x0008103e, 'LO', `${study.description} ${instance.series}`],
    [0x00100010, 'PN', `${study.person.family}^${study.person.given}`],
    [0x00100020, 'LO', study.person.patientId],
    [0x00100030, 'DA', study.person.birthDate.replace(/-/g, '')],
    [0x00100040, 'CS', study.person.gender === 'female' ? 'F' : 'M'],
    [0x0020000d, 'UI', study.uid],
    [0x0020000e, 'UI', instance.seriesUid],
    [0x00200010, 'SH', String(study.s % 100000)],
    [0x00200011, 'IS', String(instance.series)],
    [0x00200013, 'IS', '1'],
    [0x00280002, 'US', 1],
    [0x00280004, 'CS', 'MONOCHROME2'],
    [0x00280010, 'US', 16],
    [0x00280011, 'US', 16],
    [0x00280100, 'US', 8],
    [0x00280101, 'US', 8],
    [0x00280102, 'US', 7],
    [0x00280103, 'US', 0],
    [0x7fe00010, 'OB', PIXELS],
  ];
  return Buffer.concat([
    PREAMBLE,
    element(0x00020000, 'UL', meta.length),
    meta,
    ...elements.map(([tag, vr, value]) => element(tag, vr, value)),
  ]);
}

interface DcmjsReader {
  DicomMessage: { readFile(buffer: ArrayBuffer): { dict: unknown; meta: unknown } };
  DicomMetaDictionary: { naturalizeDataset(dict: unknown): Record<string, unknown> };
}

/** Reads an encoded instance back with dcmjs: the writer above is right, or this throws. */
export function selfCheck(): void {
  const instance = instances(study(7))[0]!;
  const bytes = encodeInstance(instance);
  const reader = dcmjs.data as unknown as DcmjsReader;
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const message = reader.DicomMessage.readFile(buffer);
  const dataset = reader.DicomMetaDictionary.naturalizeDataset(message.dict);
  const name = dataset.PatientName as Array<{ Alphabetic?: string }> | string;
  const seen = {
    sop: dataset.SOPInstanceUID, study: dataset.StudyInstanceUID, accession: dataset.AccessionNumber, modality: dataset.Modality,
    rows: dataset.Rows, name: Array.isArray(name) ? name[0]?.Alphabetic : name,
  };
  const wanted = {
    sop: instance.sopUid, study: instance.study.uid, accession: instance.study.accession, modality: instance.study.modality,
    rows: 16, name: `${instance.study.person.family}^${instance.study.person.given}`,
  };
  if (JSON.stringify(seen) !== JSON.stringify(wanted)) {
    throw new Error(`the DICOM writer is wrong: dcmjs reads ${JSON.stringify(seen)}, expected ${JSON.stringify(wanted)}`);
  }
}
