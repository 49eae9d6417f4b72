// Orthanc study -> FHIR R5 ImagingStudy, following the element mappings to
// DICOM of the R5 ImagingStudy page. Pure: the caller fetches the JSON.
//
// Input, all from Orthanc's database (no DICOM file read):
//   study      GET /studies/{id}
//   series     GET /studies/{id}/series?expand
//   instances  GET /studies/{id}/instances?expand   (optional: without it no
//              series.instance elements, e.g. for search results)
//   sopClassUids  per instance, its metadata "SopClassUid"
//              (GET /instances/{id}/metadata/SopClassUid): 1.10.1 does not
//              index SOPClassUID, and R5 requires instance.sopClass, so an
//              instance whose SOP class is unknown is left out (the counts
//              still include it, as the R5 definitions allow).
// Optional, read from DICOM files because 1.10.1 does not index them:
//   studyTags  ProcedureCodeSequence, TimezoneOffsetFromUTC,
//              IssuerOfAccessionNumberSequence (any instance's tags)
//   seriesTags per series: Laterality, TimezoneOffsetFromUTC (one instance of
//              the series, e.g. GET /instances/{first}/tags?simplify). When
//              studyTags is absent the first series' tags serve for the study.
//   instanceTags per instance: DocumentTitle, ConceptNameCodeSequence for
//              the title. A series' tags count as its instance's own tags
//              when their SOPInstanceUID matches.
// Every tag is looked up in MainDicomTags first, so tags that a newer
// Orthanc indexes (ExtraMainDicomTags) are used without reading files.
import type { CodeableConcept, Coding, Identifier, Reference } from '../../fhir/types';
import type {
  CodeableReference,
  ImagingStudyInstance,
  ImagingStudyResource,
  ImagingStudySeries,
} from './fhir-r5';
import type { OrthancInstance, OrthancSeries, OrthancStudy, OrthancTags } from './orthanc-types';
import {
  ACCESSION_TYPE,
  DICOM_UID_SYSTEM,
  codeItemToConcept,
  lateralityConcept,
  modalityCoding,
  sopClassCoding,
} from './dicom-codes';
import { checkConfiguredOffset, dicomDateTimeToFhir, orthancTimestampToInstant } from './dicom-datetime';
import { zonePolicy, type ZonePolicy } from './time-zone';
import { resolveIssuer } from './dicom-issuer';
import { formatPersonName } from './dicom-pn';
import { firstTagItems, firstTagString, parseUnsignedInt, tagString } from './dicom-tags';

export interface ImagingStudyInput {
  study: OrthancStudy;
  series: readonly OrthancSeries[];
  instances?: readonly OrthancInstance[];
  /** Orthanc instance id -> SOP Class UID. */
  sopClassUids?: Readonly<Record<string, string>>;
  studyTags?: OrthancTags;
  /** Orthanc series id -> tags of one of its instances. */
  seriesTags?: Readonly<Record<string, OrthancTags>>;
  /** Orthanc instance id -> its tags. */
  instanceTags?: Readonly<Record<string, OrthancTags>>;
}

export interface ImagingStudyMapOptions {
  /** References to the Endpoint(s) serving the study, e.g. [{ reference: 'Endpoint/dicomweb' }]. */
  endpoints?: readonly Reference[];
  /**
   * Repeat the endpoints on every series (default true): R5 lets a
   * series-level endpoint take precedence, and some clients only look there.
   */
  endpointOnSeries?: boolean;
  /**
   * The zone of DICOM times when the data has no TimezoneOffsetFromUTC
   * (time-zone.ts): "local" (the process's zone, DST-aware at each date and
   * time), a fixed UTC offset ("+01:00", "+0100", "Z"), or "none". Absent:
   * none, so such times are dropped and `started` has date precision (FHIR
   * requires an offset with a time).
   */
  defaultTimezoneOffset?: string | ZonePolicy;
  /** Identifier.system of accession numbers without an issuer. */
  accessionNumberSystem?: string;
  /** Issuer of accession number local name -> system. */
  accessionIssuerSystems?: Readonly<Record<string, string>>;
  /**
   * Replaces the logical basedOn reference (by ACSN identifier) with a
   * literal one, e.g. when the ServiceRequest is known on this server (also
   * for a study without accession number, matched by its UID). Returning
   * undefined keeps the logical reference.
   */
  serviceRequestReference?: (accession: Identifier | undefined, study: OrthancStudy) => Reference | undefined;
  /** Extra or overriding coding scheme designator -> system (e.g. local "99..." schemes). */
  codingSystems?: Readonly<Record<string, string>>;
  /** BodyPartExamined value -> coding (e.g. SNOMED CT per PS3.16 Annex L); the value is always kept as text. */
  bodyPartCodings?: Readonly<Record<string, Coding>>;
  /** UTC offset of Orthanc's LastUpdate; default 'Z' (Orthanc 1.10.1 writes UTC). */
  lastUpdateOffset?: string;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** DICOM UIDs are used as FHIR `id` values (series.uid, instance.uid); anything else would not validate. */
function validUid(uid: string | undefined): uid is string {
  return uid !== undefined && FHIR_ID.test(uid);
}

function compareNumbers(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a - b;
}

/** Plain code-unit order: UIDs must sort the same whatever the server's locale. */
function compareStrings(a: string | undefined, b: string | undefined): number {
  const left = a ?? '';
  const right = b ?? '';
  return left < right ? -1 : left > right ? 1 : 0;
}

/** The latest of several Orthanc timestamps (fixed-width, so string order is time order). */
function latest(values: readonly (string | undefined)[]): string | undefined {
  let result: string | undefined;
  for (const value of values) {
    if (value && (result === undefined || value > result)) result = value;
  }
  return result;
}

interface Context {
  options: ImagingStudyMapOptions;
  zone: ZonePolicy;
  studySources: readonly (OrthancTags | undefined)[];
}

function studyIdentifiers(study: OrthancStudy, context: Context): { identifiers: Identifier[]; accession?: Identifier } {
  const tags = study.MainDicomTags;
  const identifiers: Identifier[] = [];
  const uid = tagString(tags, 'StudyInstanceUID');
  if (uid !== undefined) identifiers.push({ use: 'official', system: DICOM_UID_SYSTEM, value: `urn:oid:${uid}` });

  let accession: Identifier | undefined;
  const accessionNumber = firstTagString('AccessionNumber', ...context.studySources);
  if (accessionNumber !== undefined) {
    const issuer = firstTagItems('IssuerOfAccessionNumberSequence', ...context.studySources)[0];
    const namespace = resolveIssuer(tagString(issuer, 'LocalNamespaceEntityID'), issuer, {
      defaultSystem: context.options.accessionNumberSystem,
      issuerSystems: context.options.accessionIssuerSystems,
    });
    accession = { use: 'usual', type: ACCESSION_TYPE };
    if (namespace.system) accession.system = namespace.system;
    accession.value = accessionNumber;
    identifiers.push(accession);
  }

  // The mapping lists StudyID (0020,0010) too. It is only unique within the
  // equipment that made it, so it gets no system and use 'secondary'.
  const studyId = firstTagString('StudyID', ...context.studySources);
  if (studyId !== undefined) identifiers.push({ use: 'secondary', type: { text: 'DICOM Study ID' }, value: studyId });
  return { identifiers, accession };
}

function basedOn(accession: Identifier | undefined, study: OrthancStudy, options: ImagingStudyMapOptions): Reference | undefined {
  const literal = options.serviceRequestReference?.(accession, study);
  if (literal) return literal;
  if (!accession) return undefined;
  const identifier: Identifier = { type: ACCESSION_TYPE };
  if (accession.system) identifier.system = accession.system;
  identifier.value = accession.value;
  return { type: 'ServiceRequest', identifier };
}

function procedures(context: Context): CodeableReference[] {
  const result: CodeableReference[] = [];
  for (const item of firstTagItems('ProcedureCodeSequence', ...context.studySources)) {
    const concept = codeItemToConcept(item, context.options.codingSystems);
    if (concept) result.push({ concept });
  }
  return result;
}

function bodySite(value: string | undefined, options: ImagingStudyMapOptions): CodeableReference | undefined {
  if (value === undefined) return undefined;
  const coding = options.bodyPartCodings?.[value];
  const concept: CodeableConcept = coding ? { coding: [{ ...coding }], text: value } : { text: value };
  return { concept };
}

function instanceTitle(sources: readonly (OrthancTags | undefined)[]): string | undefined {
  const title = firstTagString('DocumentTitle', ...sources);
  if (title !== undefined) return title;
  const conceptName = firstTagItems('ConceptNameCodeSequence', ...sources)[0];
  return tagString(conceptName, 'CodeMeaning');
}

function mapInstances(
  series: OrthancSeries,
  instances: readonly OrthancInstance[],
  input: ImagingStudyInput,
): ImagingStudyInstance[] {
  const seriesTags = input.seriesTags?.[series.ID];
  const rows = instances.map((instance) => {
    const uid = tagString(instance.MainDicomTags, 'SOPInstanceUID');
    const ownTags =
      input.instanceTags?.[instance.ID] ??
      (uid !== undefined && tagString(seriesTags, 'SOPInstanceUID') === uid ? seriesTags : undefined);
    const sources = [instance.MainDicomTags, ownTags];
    return {
      uid,
      number: parseUnsignedInt(tagString(instance.MainDicomTags, 'InstanceNumber')),
      sopClassUid: input.sopClassUids?.[instance.ID]?.trim() || firstTagString('SOPClassUID', ...sources),
      title: instanceTitle(sources),
      index: instance.IndexInSeries ?? undefined,
    };
  });
  rows.sort(
    (a, b) => compareNumbers(a.number, b.number) || compareNumbers(a.index, b.index) || compareStrings(a.uid, b.uid),
  );
  const result: ImagingStudyInstance[] = [];
  for (const row of rows) {
    if (!validUid(row.uid) || row.sopClassUid === undefined) continue;
    const instance: ImagingStudyInstance = { uid: row.uid, sopClass: sopClassCoding(row.sopClassUid) };
    if (row.number !== undefined) instance.number = row.number;
    if (row.title !== undefined) instance.title = row.title;
    result.push(instance);
  }
  return result;
}

function mapSeries(
  series: OrthancSeries,
  instances: readonly OrthancInstance[] | undefined,
  input: ImagingStudyInput,
  context: Context,
): ImagingStudySeries | undefined {
  const tags = series.MainDicomTags;
  const sources = [tags, input.seriesTags?.[series.ID]];
  const uid = tagString(tags, 'SeriesInstanceUID');
  if (!validUid(uid)) return undefined;

  const modality = tagString(tags, 'Modality');
  const number = parseUnsignedInt(tagString(tags, 'SeriesNumber'));
  const description = tagString(tags, 'SeriesDescription');
  const endpoints = context.options.endpointOnSeries === false ? [] : (context.options.endpoints ?? []);
  const site = bodySite(firstTagString('BodyPartExamined', ...sources), context.options);
  const laterality = lateralityConcept(firstTagString('Laterality', ...sources));
  const started = dicomDateTimeToFhir(
    tagString(tags, 'SeriesDate'),
    tagString(tags, 'SeriesTime'),
    firstTagString('TimezoneOffsetFromUTC', ...sources, ...context.studySources),
    context.zone,
  );
  const result: ImagingStudySeries = {
    uid,
    ...(number !== undefined ? { number } : {}),
    // series.modality is 1..1; Modality is type 1 in DICOM, so its absence
    // means broken data: say so in text rather than guess a code.
    modality: modality !== undefined ? { coding: [modalityCoding(modality)] } : { text: 'Unknown modality' },
    ...(description !== undefined ? { description } : {}),
    numberOfInstances: series.Instances.length,
    ...(endpoints.length > 0 ? { endpoint: endpoints.map((endpoint) => ({ ...endpoint })) } : {}),
    ...(site ? { bodySite: site } : {}),
    ...(laterality ? { laterality } : {}),
    ...(started ? { started } : {}),
  };
  if (instances) {
    const mapped = mapInstances(series, instances, input);
    if (mapped.length > 0) result.instance = mapped;
  }
  return result;
}

function sortSeries(series: readonly OrthancSeries[]): OrthancSeries[] {
  return [...series].sort(
    (a, b) =>
      compareNumbers(
        parseUnsignedInt(tagString(a.MainDicomTags, 'SeriesNumber')),
        parseUnsignedInt(tagString(b.MainDicomTags, 'SeriesNumber')),
      ) || compareStrings(tagString(a.MainDicomTags, 'SeriesInstanceUID'), tagString(b.MainDicomTags, 'SeriesInstanceUID')),
  );
}

export function mapImagingStudy(input: ImagingStudyInput, options: ImagingStudyMapOptions = {}): ImagingStudyResource {
  const lastUpdateOffset = checkConfiguredOffset(options.lastUpdateOffset, 'lastUpdateOffset') ?? 'Z';
  const zone = zonePolicy(options.defaultTimezoneOffset, 'defaultTimezoneOffset');
  const { study } = input;
  const tags = study.MainDicomTags;
  const orderedSeries = sortSeries(input.series);
  const firstSeriesTags = orderedSeries.map((series) => input.seriesTags?.[series.ID]).find((found) => found);
  const context: Context = {
    options,
    zone,
    studySources: [tags, input.studyTags ?? firstSeriesTags],
  };

  const lastUpdated = orthancTimestampToInstant(
    latest([study.LastUpdate, ...input.series.map((series) => series.LastUpdate)]),
    lastUpdateOffset,
  );
  const { identifiers, accession } = studyIdentifiers(study, context);
  const based = basedOn(accession, study, options);

  const instancesBySeries = new Map<string, OrthancInstance[]>();
  for (const instance of input.instances ?? []) {
    const list = instancesBySeries.get(instance.ParentSeries) ?? [];
    list.push(instance);
    instancesBySeries.set(instance.ParentSeries, list);
  }
  const series: ImagingStudySeries[] = [];
  for (const orthancSeries of orderedSeries) {
    const instances = input.instances ? (instancesBySeries.get(orthancSeries.ID) ?? []) : undefined;
    const mapped = mapSeries(orthancSeries, instances, input, context);
    if (mapped) series.push(mapped);
  }

  // Distinct series modalities, in series order (R5: "all of the distinct
  // values for series' modalities").
  const modalities: CodeableConcept[] = [];
  const seen = new Set<string>();
  for (const item of series) {
    const code = item.modality.coding?.[0]?.code;
    if (code === undefined || seen.has(code)) continue;
    seen.add(code);
    modalities.push({ coding: [modalityCoding(code)] });
  }

  const started = dicomDateTimeToFhir(
    tagString(tags, 'StudyDate'),
    tagString(tags, 'StudyTime'),
    firstTagString('TimezoneOffsetFromUTC', ...context.studySources),
    zone,
  );
  const referrer = formatPersonName(firstTagString('ReferringPhysicianName', ...context.studySources));
  const procedure = procedures(context);
  const description = firstTagString('StudyDescription', ...context.studySources);

  const endpoints = options.endpoints ?? [];
  // In the order of the R5 element table, for readable output; optional
  // elements are spread in only when they have content.
  return {
    resourceType: 'ImagingStudy',
    id: study.ID,
    ...(lastUpdated ? { meta: { lastUpdated } } : {}),
    ...(identifiers.length > 0 ? { identifier: identifiers } : {}),
    status: 'available',
    ...(modalities.length > 0 ? { modality: modalities } : {}),
    subject: { reference: `Patient/${study.ParentPatient}` },
    ...(started ? { started } : {}),
    ...(based ? { basedOn: [based] } : {}),
    ...(referrer ? { referrer: { display: referrer } } : {}),
    ...(endpoints.length > 0 ? { endpoint: endpoints.map((endpoint) => ({ ...endpoint })) } : {}),
    numberOfSeries: input.series.length,
    numberOfInstances: input.series.reduce((total, item) => total + item.Instances.length, 0),
    ...(procedure.length > 0 ? { procedure } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(series.length > 0 ? { series } : {}),
  };
}
