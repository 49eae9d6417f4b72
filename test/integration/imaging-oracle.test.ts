// Search results checked against an independent oracle: the official R5
// SearchParameter expressions evaluated with the fhirpath package over the
// resources the server itself serves, and the search.html comparison rules
// (test/support/search-oracle.ts). Queries are generated from the data by a
// seeded generator, so a failure names a query that reproduces.
import { expect } from 'chai';
import { imagingDataset, sendDataset, type Dataset } from '../support/imaging-dataset';
import { Orthanc } from '../support/orthanc';
import { POSTGRESQL_INDEX_PLUGIN, PostgresCluster } from '../support/postgres';
import { loadR4Schema, validateR4 } from '../support/fhir-schema-r4';
import {
  dateMatches, dateRange, foldString, OracleUnsupported, SearchOracle, stringParts, tokens,
  type FhirResource, type IncludeParameter, type QueryPair, type SelectedValue,
} from '../support/search-oracle';

const SEED = 0x5eed_f41e;
const TYPES = ['Patient', 'ImagingStudy', 'Endpoint', 'ServiceRequest', 'Task'] as const;
type ResourceType = (typeof TYPES)[number];
/** The types the server's search index holds: the only ones a chain, a _has or an :iterate can go through. */
const INDEXED: readonly ResourceType[] = ['Patient', 'ImagingStudy', 'ServiceRequest', 'Task'];

/** The parameters the server declares (src/resources/*-resource.ts), checked below against its CapabilityStatement. */
const PARAMS: Record<ResourceType, readonly string[]> = {
  Patient: ['_id', '_lastUpdated', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender'],
  ImagingStudy: ['_id', '_lastUpdated', 'identifier', 'patient', 'subject', 'started', 'modality', 'series', 'instance', 'dicom-class',
    'status', 'endpoint', 'referrer', 'based-on'],
  Endpoint: ['_id', '_lastUpdated', 'status', 'connection-type', 'name'],
  ServiceRequest: ['_id', '_lastUpdated', 'identifier', 'patient', 'subject', 'status', 'intent', 'code-concept', 'authored',
    'occurrence', 'requisition', 'performer', 'based-on'],
  Task: ['_id', '_lastUpdated', 'identifier', 'status', 'intent', 'based-on', 'focus', 'patient', 'subject', 'owner',
    'code', 'authored-on', 'modified', 'period', 'business-status'],
};

const LOINC = 'http://loinc.org';
const ACSN = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] };

/** Orders of the stored types, varied over every declared parameter, for the dataset's patients (seeded). */
function orders(patients: readonly string[], random: () => number): Json[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const day = (n: number) => new Date(Date.UTC(2030, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
  const requests: Json[] = [];
  for (let i = 0; i < 10; i++) {
    const patient = pick(patients);
    requests.push({
      resourceType: 'ServiceRequest',
      status: pick(['active', 'active', 'completed', 'draft', 'revoked']),
      intent: pick(['order', 'original-order', 'plan']),
      subject: { reference: `Patient/${patient}` },
      identifier: [{ type: ACSN, system: 'urn:oid:2.25.42', value: `ORA-${i}` }],
      ...(random() < 0.6 ? { requisition: { system: 'urn:oid:2.25.7', value: `REQ-${i % 3}` } } : {}),
      code: { concept: { coding: [pick([{ system: LOINC, code: '24627-2', display: 'CT Chest' }, { system: LOINC, code: '36643-5', display: 'XR Chest 2V' }])], text: pick(['CT chest', 'Chest X-ray']) } },
      ...(random() < 0.8 ? { authoredOn: `${day(i)}T08:${String(10 + i).padStart(2, '0')}:00Z` } : {}),
      ...(random() < 0.5 ? { occurrenceDateTime: `${day(i + 30)}T09:30:00+01:00` } : { occurrencePeriod: { start: day(i + 20), ...(random() < 0.5 ? { end: day(i + 25) } : {}) } }),
      ...(random() < 0.5 ? { performer: [{ reference: `Practitioner/rad-${i % 2}`, display: 'Radiologist' }] } : {}),
    });
  }
  return requests;
}

/**
 * Orders of studies of the dataset (ACSN identifier = the study's accession
 * number), so that ImagingStudy.basedOn refers to them literally: chains and
 * _has through ImagingStudy:based-on. The second one is basedOn the first
 * order made (ServiceRequest:based-on).
 */
function linkedOrders(patientOf: (patientId: string) => string, firstOrder: string): Json[] {
  return [
    {
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patientOf('MRN 001/2024-A')}` },
      identifier: [{ type: ACSN, value: 'ACC-1001' }],
      code: { concept: { coding: [{ system: LOINC, code: '24627-2', display: 'CT Chest' }], text: 'CT chest' } },
      authoredOn: '2024-01-30T16:00:00+01:00', occurrenceDateTime: '2024-01-31T10:00:00+01:00',
    },
    {
      resourceType: 'ServiceRequest', status: 'completed', intent: 'original-order', subject: { reference: `Patient/${patientOf('JP-0002')}` },
      identifier: [{ type: ACSN, value: 'ACC-1002' }], basedOn: [{ reference: `ServiceRequest/${firstOrder}` }],
      code: { concept: { coding: [{ system: LOINC, code: '24558-9', display: 'US Abdomen' }], text: 'US abdomen' } },
      authoredOn: '2024-01-29', occurrencePeriod: { start: '2024-02-01', end: '2024-02-02' },
    },
  ];
}

function tasks(requestIds: readonly string[], requests: readonly Json[], random: () => number): Json[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  return requestIds.flatMap((id, i) => Array.from({ length: 1 + Math.floor(random() * 2) }, (_, j) => ({
    resourceType: 'Task',
    status: pick(['requested', 'requested', 'in-progress', 'completed', 'cancelled']),
    intent: 'order',
    identifier: [{ system: 'urn:oid:2.25.43', value: `SPS-${i}-${j}` }],
    basedOn: [{ reference: `ServiceRequest/${id}` }],
    ...(random() < 0.5 ? { focus: { reference: `ServiceRequest/${id}` } } : {}),
    for: requests[i]!.subject,
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: pick(['fulfill', 'approve']) }] },
    ...(random() < 0.7 ? { authoredOn: `2030-02-0${1 + (i % 9)}T10:00:00Z` } : {}),
    ...(random() < 0.5 ? { lastModified: `2030-02-1${i % 10}T11:00:00Z` } : {}),
    ...(random() < 0.6 ? { executionPeriod: { start: `2030-03-0${1 + (j % 9)}T08:00:00Z` } } : {}),
    owner: { type: 'Device', identifier: { system: 'urn:dicom:ae', value: pick(['CT01', 'MR01']) }, display: 'station' },
    ...(random() < 0.4 ? { businessStatus: { text: pick(['waiting', 'scanning']) } } : {}),
    input: [{ type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '121139' }] }, valueCodeableConcept: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }] } }],
  })));
}

async function create(baseUrl: string, resource: Json): Promise<Json> {
  const response = await fetch(`${baseUrl}/${resource.resourceType}`, {
    method: 'POST', headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' }, body: JSON.stringify(resource),
  });
  const body = (await response.json()) as Json;
  if (response.status !== 201) throw new Error(`create ${resource.resourceType}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

type Json = Record<string, any>;

/**
 * 'spec': the spec's rules settle the answer. The other categories are kept
 * apart so that a decision about them does not hide the rest:
 * 'uid-form': a DICOM UID written with urn:oid: where the element has none,
 *   or without it where the element has it (the server widens both on
 *   purpose, so the expected answer is the one of the stored form).
 * 'implicit-system': '|code' and 'system|' on a `code` element with a
 *   required binding, whose answer depends on how one reads the spec's
 *   "the system is implicit" (see search-oracle.ts).
 */
type Category = 'spec' | 'uid-form' | 'implicit-system' | 'multi-system-code';

/** What a query exercises: one parameter or an AND of them, a chain, a _has, or _lastUpdated. */
type Feature = 'plain' | 'chain' | 'has' | 'lastUpdated';

interface GeneratedQuery {
  type: ResourceType;
  category: Category;
  feature: Feature;
  query: QueryPair[];
}

/** mulberry32: a small seeded PRNG, so that the generated queries (and the dataset's UIDs) reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The dataset with Math.random seeded: its UIDs (hence Orthanc's study ids)
 * are the same on every run of this file alone (dicom.ts also counts the UIDs
 * made in the process, so a whole-suite run shifts them; the queries' shapes
 * stay the same).
 */
function seededDataset(seed: number): Dataset {
  const random = Math.random;
  Math.random = prng(seed);
  try {
    return imagingDataset();
  } finally {
    Math.random = random;
  }
}

class Generator {
  readonly queries: GeneratedQuery[] = [];
  private readonly seen = new Set<string>();
  private readonly random: () => number;
  /** The feature of the queries being added. */
  private feature: Feature = 'plain';

  constructor(
    private readonly oracle: SearchOracle,
    private readonly baseUrl: string,
    seed: number,
  ) {
    this.random = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Up to n distinct items, in a seeded order. */
  sample<T>(items: readonly T[], n: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, n);
  }

  add(type: ResourceType, ...query: QueryPair[]): void {
    this.categorized('spec', type, ...query);
  }

  categorized(category: Category, type: ResourceType, ...query: QueryPair[]): void {
    const key = `${type}?${JSON.stringify(query)}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.queries.push({ type, category, feature: this.feature, query });
  }

  private resources(type: ResourceType): FhirResource[] {
    return this.oracle.resources.filter((r) => r.resourceType === type);
  }

  private selected(type: ResourceType, code: string): Array<SelectedValue & { owner: string }> {
    return this.resources(type).flatMap((r) => this.oracle.select(r, code).map((v) => ({ ...v, owner: r.id })));
  }

  generate(): GeneratedQuery[] {
    for (const type of TYPES) {
      for (const code of PARAMS[type]) {
        const kind = this.oracle.param(type, code).type;
        this.feature = code === '_lastUpdated' ? 'lastUpdated' : 'plain';
        if (code === '_lastUpdated') this.lastUpdated(type);
        else if (kind === 'string') this.strings(type, code);
        else if (kind === 'token') this.tokens(type, code);
        else if (kind === 'date') this.dates(type, code);
        else if (kind === 'reference') this.references(type, code);
        else throw new Error(`no generator for ${kind} (${type}.${code})`);
        this.add(type, [`${code}:missing`, 'true']);
        this.add(type, [`${code}:missing`, 'false']);
      }
    }
    this.feature = 'plain';
    this.combinations();
    this.feature = 'chain';
    this.chains();
    this.feature = 'has';
    this.reverseChains();
    return this.queries;
  }

  /** Single-parameter queries of `type` already generated (plain ones: token, string, date), to go inside a chain or a _has. */
  private innerQueries(type: ResourceType): QueryPair[] {
    return this.queries
      .filter((q) => q.type === type && q.category === 'spec' && q.feature === 'plain' && q.query.length === 1)
      .filter((q) => ['token', 'string', 'date'].includes(this.oracle.param(type, q.query[0]![0].split(':')[0]!).type))
      .map((q) => q.query[0]!);
  }

  /** `n` inner queries of `type`: most of them matching one of `among` (so that the chain selects something), the rest any. */
  private someInner(type: ResourceType, among: readonly FhirResource[], n: number): QueryPair[] {
    const all = this.innerQueries(type);
    const ids = new Set(among.map((r) => r.id));
    const hitting = all.filter((q) => this.oracle.search(type, [q]).some((id) => ids.has(id)));
    return [...this.sample(hitting, n - Math.floor(n / 3)), ...this.sample(all, Math.floor(n / 3))];
  }

  /** The declared reference parameters of `type` with, per indexed target type, the resources their values resolve to. */
  private referenceTargets(type: ResourceType): Array<{ code: string; targets: Map<ResourceType, FhirResource[]> }> {
    return PARAMS[type].filter((code) => this.oracle.param(type, code).type === 'reference').map((code) => {
      const targets = new Map<ResourceType, FhirResource[]>();
      for (const r of this.resources(type)) {
        for (const v of this.oracle.select(r, code)) {
          const target = this.oracle.resolve(v.data);
          if (target && (INDEXED as readonly string[]).includes(target.resourceType)) {
            const t = target.resourceType as ResourceType;
            targets.set(t, [...(targets.get(t) ?? []), target]);
          }
        }
      }
      return { code, targets };
    });
  }

  /** Chains of one and two levels on every reference parameter, typed and untyped, with token, string and date inner parameters. */
  private chains(): void {
    for (const type of INDEXED) {
      for (const { code, targets } of this.referenceTargets(type)) {
        const param = this.oracle.param(type, code);
        const indexedTargets = INDEXED.filter((t) => param.target.length === 0 || param.target.includes(t));
        if (indexedTargets.length === 0) continue; // endpoint, referrer: no indexed type to chain to
        if (targets.size === 0) {
          // Values that resolve to nothing here (Practitioner, identifier-only owners): the chain matches nothing.
          for (const t of indexedTargets.slice(0, 2)) {
            for (const [name, value] of this.sample(this.innerQueries(t), 2)) {
              this.add(type, [`${code}.${name}`, value]);
              this.add(type, [`${code}:${t}.${name}`, value]);
            }
          }
          continue;
        }
        for (const [target, resolved] of targets) {
          for (const [name, value] of this.someInner(target, resolved, 9)) this.add(type, [`${code}.${name}`, value]);
          for (const [name, value] of this.someInner(target, resolved, 4)) this.add(type, [`${code}:${target}.${name}`, value]);
          // A :Type the parameter allows but its values are not: nothing.
          const other = indexedTargets.find((t) => t !== target && !targets.has(t));
          if (other) for (const [name, value] of this.sample(this.innerQueries(other), 2)) this.add(type, [`${code}:${other}.${name}`, value]);
          // Two levels: the target's own reference parameters.
          for (const { code: next, targets: nextTargets } of this.referenceTargets(target)) {
            for (const [second, secondResolved] of nextTargets) {
              for (const [name, value] of this.someInner(second, secondResolved, 3)) {
                this.add(type, [`${code}.${next}.${name}`, value]);
                this.add(type, [`${code}:${target}.${next}:${second}.${name}`, value]);
              }
            }
          }
        }
        // A chain and a plain parameter, and two chains (AND).
        const plain = this.innerQueries(type).filter((q) => this.oracle.search(type, [q]).length > 0);
        const chained = this.queries.filter((q) => q.type === type && q.feature === 'chain' && q.query.length === 1 && q.query[0]![0].startsWith(`${code}`));
        for (let i = 0; i < 3 && chained.length > 1 && plain.length > 0; i++) {
          const [a, b] = this.sample(chained, 2);
          this.add(type, a!.query[0]!, this.pick(plain));
          this.add(type, a!.query[0]!, b!.query[0]!);
        }
      }
    }
  }

  /** _has of every reference parameter that points to a type, nested once, and with a chain inside. */
  private reverseChains(): void {
    for (const type of INDEXED) {
      for (const source of INDEXED) {
        for (const { code, targets } of this.referenceTargets(source)) {
          const param = this.oracle.param(source, code);
          if (param.target.length > 0 && !param.target.includes(type)) continue;
          const referring = this.resources(source).filter((s) => this.oracle.select(s, code).some((v) => this.oracle.resolve(v.data)?.resourceType === type));
          if (!targets.has(type)) {
            // Nothing of the source points here: the _has matches nothing.
            for (const [name, value] of this.sample(this.innerQueries(source), 1)) this.add(type, [`_has:${source}:${code}:${name}`, value]);
            continue;
          }
          for (const [name, value] of this.someInner(source, referring, 6)) this.add(type, [`_has:${source}:${code}:${name}`, value]);
          // Nested: _has:Source:code:_has:Source2:code2:param, Source2 referring to Source.
          for (const inner of INDEXED) {
            for (const { code: code2, targets: targets2 } of this.referenceTargets(inner)) {
              if (!targets2.has(source)) continue;
              const referring2 = this.resources(inner).filter((s) => this.oracle.select(s, code2).some((v) => this.oracle.resolve(v.data)?.resourceType === source));
              for (const [name, value] of this.someInner(inner, referring2, 2)) this.add(type, [`_has:${source}:${code}:_has:${inner}:${code2}:${name}`, value]);
            }
          }
          // A chain inside: _has:Source:code:ref.param, and a _has with a plain parameter.
          for (const { code: ref, targets: refTargets } of this.referenceTargets(source)) {
            for (const [target, resolved] of refTargets) {
              for (const [name, value] of this.someInner(target, resolved, 1)) this.add(type, [`_has:${source}:${code}:${ref}.${name}`, value]);
            }
          }
          const plain = this.innerQueries(type).filter((q) => this.oracle.search(type, [q]).length > 0);
          const has = this.queries.filter((q) => q.type === type && q.feature === 'has' && q.query.length === 1);
          for (let i = 0; i < 2 && has.length > 0 && plain.length > 0; i++) this.add(type, this.pick(has).query[0]!, this.pick(plain));
        }
      }
    }
  }

  /**
   * _lastUpdated with eq, ge, le, gt and lt at day precision, and at instant
   * precision (the values themselves, at seconds and minutes, and the
   * instants halfway between two neighbours): they split the listing.
   */
  private lastUpdated(type: ResourceType): void {
    const code = '_lastUpdated';
    const texts = [...new Set(this.selected(type, code).map((v) => String(v.data)))];
    const instants = [...new Set(texts.map((t) => dateRange(t).low))].sort((a, b) => a - b);
    const prefixes = ['eq', 'ge', 'le', 'gt', 'lt'];
    const iso = (ms: number) => new Date(ms).toISOString();
    const points = new Set<string>();
    for (const text of this.sample(texts, 4)) {
      points.add(text);
      points.add(iso(dateRange(text).low).slice(0, 19) + 'Z'); // seconds
      points.add(iso(dateRange(text).low).slice(0, 16) + 'Z'); // minutes
    }
    for (let i = 1; i < instants.length; i++) {
      if (i % Math.max(1, Math.floor(instants.length / 5)) !== 0) continue;
      points.add(iso(Math.floor((instants[i - 1]! + instants[i]!) / 2)));
    }
    const days = [...new Set(texts.map((t) => iso(dateRange(t).low).slice(0, 10)))];
    for (const d of days) {
      const low = dateRange(d).low;
      points.add(d);
      points.add(iso(low - 86_400_000).slice(0, 10));
      points.add(iso(low + 86_400_000).slice(0, 10));
      points.add(d.slice(0, 7));
    }
    for (const point of [...points].sort()) for (const prefix of prefixes) this.add(type, [code, `${prefix}${point}`]);
    if (instants.length > 2) {
      const a = iso(instants[1]!);
      const b = iso(instants[instants.length - 2]!);
      this.add(type, [code, `ge${a}`], [code, `le${b}`]);
      this.add(type, [code, `gt${a}`], [code, `lt${b}`]);
      this.add(type, [code, `lt${a},gt${b}`]);
    }
  }

  private strings(type: ResourceType, code: string): void {
    const byOwner = new Map<string, string[]>();
    for (const value of this.selected(type, code)) {
      byOwner.set(value.owner, [...(byOwner.get(value.owner) ?? []), ...stringParts(value)]);
    }
    const parts = [...new Set([...byOwner.values()].flat())].sort();
    for (const part of parts) {
      this.add(type, [code, escape(part)]);
      const cut = 1 + this.int(Math.max(1, [...part].length - 1));
      this.add(type, [code, escape([...part].slice(0, cut).join(''))]);
      this.add(type, [code, escape(part.toUpperCase())]);
      const stripped = part.normalize('NFD').replace(/\p{M}/gu, '');
      if (stripped !== part) this.add(type, [code, escape(stripped)]);
      this.add(type, [`${code}:exact`, escape(part)]);
      if (part.toLowerCase() !== part) this.add(type, [`${code}:exact`, escape(part.toLowerCase())]);
      if (stripped !== part) this.add(type, [`${code}:exact`, escape(stripped)]);
      const chars = [...part];
      if (chars.length > 2) {
        const from = 1 + this.int(chars.length - 2);
        this.add(type, [`${code}:contains`, escape(chars.slice(from, from + 1 + this.int(chars.length - from)).join('').toUpperCase())]);
      }
    }
    this.add(type, [code, 'zzz-absent']);
    this.add(type, [`${code}:contains`, 'qqq']);
    this.add(type, [code, 'a\\,b']); // an escaped comma: one value, not an OR
    for (let i = 0; i < 4 && parts.length > 1; i++) {
      const [a, b] = this.sample(parts, 2);
      this.add(type, [code, `${escape(a!.slice(0, 3))},${escape(b!)}`]);
      this.add(type, [code, escape(a!)], [code, escape(b!.slice(0, 2))]); // AND: usually the same resource only
    }
    for (const owned of byOwner.values()) {
      if (owned.length > 1) {
        const [a, b] = this.sample(owned, 2);
        this.add(type, [code, escape(a!)], [code, escape(b!)]);
      }
    }
  }

  private tokens(type: ResourceType, code: string): void {
    const values = this.selected(type, code);
    const all = values.flatMap((v) => tokens(v).map((t) => ({ ...t, owner: v.owner, valueType: v.type })));
    const byKey = new Map<string, (typeof all)[number]>();
    for (const t of all) if (!byKey.has(`${t.system ?? ''}|${t.code ?? ''}`)) byKey.set(`${t.system ?? ''}|${t.code ?? ''}`, t);
    const distinct = [...byKey.values()];
    for (const t of distinct) {
      if (t.code === undefined) continue;
      const c = escape(t.code);
      this.add(type, [code, c]);
      if (t.system !== undefined) {
        this.add(type, [code, `${escape(t.system)}|${c}`]);
        const implicit: Category = t.valueType === 'code' ? 'implicit-system' : 'spec';
        this.categorized(implicit, type, [code, `${escape(t.system)}|`]);
        this.categorized(implicit, type, [code, `|${c}`]);
      } else if (t.valueType === 'code') {
        // A code whose value set draws on several code systems (Task.intent): the server gives each code its
        // system from the official binding, which the oracle does not model; so '|code' finds nothing.
        this.categorized('multi-system-code', type, [code, `|${c}`]);
      } else {
        this.add(type, [code, `|${c}`]);
      }
      this.add(type, [code, `urn:absent:system|${c}`]);
      this.add(type, [`${code}:not`, c]);
      const swapped = swapCase(t.code);
      if (swapped !== t.code) this.add(type, [code, escape(swapped)]);
      const coding = t.identifierType?.coding?.[0];
      if (coding?.system && coding.code) {
        this.add(type, [`${code}:of-type`, `${escape(coding.system)}|${escape(coding.code)}|${c}`]);
        this.add(type, [`${code}:of-type`, `${escape(coding.system)}|XX|${c}`]);
      }
      // A DICOM UID written without its urn:oid: prefix, and the other way round: per the spec a different code.
      // The server widens both forms on its imaging types only: on the stored ones, the spec's rule holds.
      const uidForm: Category = type === 'ServiceRequest' || type === 'Task' ? 'spec' : 'uid-form';
      if (t.code.startsWith('urn:oid:')) this.categorized(uidForm, type, [code, escape(t.code.slice('urn:oid:'.length))]);
      else if (/^\d+(\.\d+)+$/.test(t.code)) this.categorized(uidForm, type, [code, `urn:oid:${t.code}`]);
    }
    this.add(type, [code, 'absent-code']);
    this.add(type, [`${code}:not`, 'absent-code']);
    const codes = distinct.filter((t) => t.code !== undefined);
    for (let i = 0; i < 4 && codes.length > 1; i++) {
      const [a, b] = this.sample(codes, 2);
      this.add(type, [code, `${escape(a!.code!)},${escape(b!.code!)}`]);
      this.add(type, [`${code}:not`, `${escape(a!.code!)},${escape(b!.code!)}`]);
      this.add(type, [code, escape(a!.code!)], [code, escape(b!.code!)]);
      this.add(type, [code, `${escape(a!.code!)},absent-code`], [code, `${escape(b!.code!)},${escape(a!.code!)}`]);
    }
  }

  private dates(type: ResourceType, code: string): void {
    const texts = [...new Set(this.selected(type, code).flatMap((v) => dateTexts(v.data)))].sort();
    const prefixes = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'];
    const day = 86_400_000;
    const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    for (const text of texts) {
      // Anchors at year, month and day precision around the value (as far as its own precision goes).
      const date = text.slice(0, 10);
      const y = date.slice(0, 4);
      const low = dateRange(date).low;
      const anchors = [y, String(Number(y) - 1), String(Number(y) + 1)];
      if (date.length >= 7) anchors.push(date.slice(0, 7));
      if (date.length === 10) anchors.push(date, isoDay(low - day), isoDay(low + day));
      for (const prefix of prefixes) this.add(type, [code, `${prefix}${date}`]);
      for (const anchor of anchors) {
        this.add(type, [code, anchor]);
        for (const prefix of this.sample(prefixes, 3)) this.add(type, [code, `${prefix}${anchor}`]);
      }
      if (text.includes('T')) {
        // Times around the value's instant, at minute and second precision, in its zone and in UTC.
        const instant = dateRange(text).low;
        const utc = (ms: number, chars: number) => `${new Date(ms).toISOString().slice(0, chars)}Z`;
        const candidates = [
          text.replace(/:\d{2}(Z|[+-]\d{2}:\d{2})$/, '$1'), // minute precision, original offset
          text,
          utc(instant, 16),
          utc(instant, 19),
          utc(instant + 60_000, 16),
          utc(instant - 3_600_000, 16),
          `${date}T23:30+14:00`,
          `${date}T00:30-12:00`,
        ];
        for (const candidate of candidates) {
          for (const prefix of ['', ...this.sample(prefixes, 4)]) this.add(type, [code, `${prefix}${candidate}`]);
        }
      }
    }
    this.add(type, [code, '1900-01-01']);
    this.add(type, [code, 'ge2100']);
    for (let i = 0; i < 4 && texts.length > 1; i++) {
      const [a, b] = this.sample(texts, 2).map((t) => t.slice(0, 10)).sort();
      this.add(type, [code, `${a},${b}`]);
      this.add(type, [code, `ge${a}`], [code, `le${b}`]);
      this.add(type, [code, `gt${a}`], [code, `lt${b}`]);
      this.add(type, [code, `sa${a!.slice(0, 4)}`], [code, `eb${b!.slice(0, 7)}`]);
    }
  }

  private references(type: ResourceType, code: string): void {
    const param = this.oracle.param(type, code);
    const values = this.selected(type, code);
    const references = [...new Set(values.map((v) => (v.data as { reference?: string }).reference).filter((r): r is string => r !== undefined))].sort();
    for (const reference of references) {
      const [refType, id] = reference.split('/') as [string, string];
      this.add(type, [code, reference]);
      this.add(type, [code, id]);
      this.add(type, [code, `${this.baseUrl}/${reference}`]);
      this.add(type, [`${code}:${refType}`, id]);
      for (const other of param.target.filter((t) => t !== refType)) this.add(type, [code, `${other}/${id}`]);
    }
    const identifiers = values.map((v) => (v.data as { identifier?: { system?: string; value?: string } }).identifier)
      .filter((i): i is { system?: string; value?: string } => i?.value !== undefined);
    for (const identifier of identifiers) {
      this.add(type, [`${code}:identifier`, escape(identifier.value!)]);
      this.add(type, [`${code}:identifier`, identifier.system ? `${escape(identifier.system)}|${escape(identifier.value!)}` : `|${escape(identifier.value!)}`]);
      this.add(type, [`${code}:identifier`, `urn:absent:system|${escape(identifier.value!)}`]);
      this.add(type, [code, `${this.pick(param.target)}/${escape(identifier.value!)}`]);
    }
    const target = param.target[0]!;
    this.add(type, [code, `${target}/absent-id`]);
    this.add(type, [code, 'absent-id']);
    this.add(type, [code, `http://elsewhere.example.org/fhir/${target}/absent-id`]);
    for (let i = 0; i < 3 && references.length > 1; i++) {
      const [a, b] = this.sample(references, 2);
      this.add(type, [code, `${a},${b!.split('/')[1]}`]);
      this.add(type, [code, a!], [code, b!]);
    }
  }

  /** AND of two parameters, drawn from single-parameter queries of the same type. */
  private combinations(): void {
    for (const type of TYPES) {
      const singles = this.queries.filter((q) => q.type === type && q.category === 'spec' && q.feature === 'plain' && q.query.length === 1);
      const matching = singles.filter((q) => this.oracle.search(type, q.query).length > 0);
      for (let i = 0; i < 40 && matching.length > 1; i++) {
        const [a, b] = this.sample(matching, 2);
        if (a!.query[0]![0].split(':')[0] === b!.query[0]![0].split(':')[0]) continue;
        this.add(type, a!.query[0]!, b!.query[0]!);
      }
    }
  }
}

/** The date texts of a date, dateTime, instant or Period value. */
function dateTexts(data: unknown): string[] {
  if (typeof data === 'string') return [data];
  const period = (data ?? {}) as { start?: unknown; end?: unknown };
  return [period.start, period.end].filter((t): t is string => typeof t === 'string');
}

/** Escapes a value's search-syntax characters (search.html "Escaping Search Parameters"). */
function escape(value: string): string {
  return value.replace(/[\\,|$]/g, (c) => `\\${c}`);
}

function swapCase(value: string): string {
  return [...value].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
}

/** JSON with sorted keys, to compare resources whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v);
}

function encodeQuery(query: readonly QueryPair[]): string {
  // ':' is left readable in names (subject:Patient); everything else is percent-encoded, '+' of offsets included.
  return query.map(([name, value]) => `${encodeURIComponent(name).replace(/%3A/g, ':')}=${encodeURIComponent(value)}`).join('&');
}

interface SearchAnswer {
  status: number;
  ids: string[];
  resources: FhirResource[];
  /** The Bundles served, page by page. */
  bundles: Json[];
  /** The OperationOutcome's diagnostics when the search failed. */
  problem?: string;
}

/** Runs a search and follows its 'next' links; ids in the order served. */
async function searchAll(url: string, accept = 'application/fhir+json'): Promise<SearchAnswer> {
  const ids: string[] = [];
  const resources: FhirResource[] = [];
  const bundles: Json[] = [];
  let next: string | undefined = url;
  for (let pages = 0; next !== undefined; pages++) {
    if (pages > 100) throw new Error(`more than 100 pages from ${url}`);
    const response = await fetch(next, { headers: { accept } });
    const body = (await response.json().catch(() => ({}))) as Json;
    if (response.status !== 200) {
      const problem = (body.issue ?? []).map((i: Json) => i.diagnostics).join('; ');
      return { status: response.status, ids, resources, bundles, problem };
    }
    bundles.push(body);
    for (const entry of body.entry ?? []) {
      if (entry.search?.mode === undefined || entry.search.mode === 'match') {
        ids.push(entry.resource.id);
        resources.push(entry.resource);
      }
    }
    next = (body.link ?? []).find((l: Json) => l.relation === 'next')?.url;
  }
  return { status: 200, ids, resources, bundles };
}

/** R4 names of the R5 search parameter codes that differ (official R4 and R5 SearchParameters), per type. */
const R4_NAMES: Partial<Record<string, Record<string, string>>> = {
  ImagingStudy: { 'based-on': 'basedon', 'body-site': 'bodysite' },
  ServiceRequest: { 'code-concept': 'code' },
};

/**
 * An R5 query in R4 names: codes renamed on the type they belong to (in a
 * chain, the types the previous segment can point to, per the R5 oracle's
 * definitions; in a _has, the source type), in _include/_revinclude values
 * too; absolute references moved under the R4 base.
 */
function queryToR4(type: string, query: readonly QueryPair[], oracle: SearchOracle, fhirUrl: string, moveBase = true): QueryPair[] {
  const code = (types: readonly string[], c: string) => types.map((t) => R4_NAMES[t]?.[c]).find((r) => r !== undefined) ?? c;
  const name = (types: readonly string[], n: string): string => {
    if (n.startsWith('_has:')) {
      const [, source, ref, ...rest] = n.split(':');
      return ['_has', source, code([source!], ref!), name([source!], rest.join(':'))].join(':');
    }
    let current = types;
    return n.split('.').map((segment) => {
      const [c, modifier] = segment.split(':') as [string, string | undefined];
      const renamed = code(current, c);
      const typed = modifier !== undefined && /^[A-Z]/.test(modifier) ? [modifier] : undefined;
      current = typed ?? current.flatMap((t) => {
        const p = /^_/.test(c) ? undefined : oracle.findParam(t, c);
        return p?.type === 'reference' ? INDEXED.filter((i) => p.target.length === 0 || p.target.includes(i)) : [];
      });
      return modifier === undefined ? renamed : `${renamed}:${modifier}`;
    }).join('.');
  };
  return query.map(([n, v]): QueryPair => {
    if (/^_(rev)?include(:iterate)?$/.test(n)) {
      const [source, c, ...rest] = v.split(':');
      return [n, [source, code([source!], c!), ...rest].join(':')];
    }
    return [name([type], n), moveBase ? v.split(`${fhirUrl}/`).join(`${fhirUrl}/R4/`) : v];
  });
}

/** The included resources of a search's first page (as Type/id), its matches' ids, or its failure. */
async function includeAnswer(url: string): Promise<{ status: number; matches: string[]; included: string[]; bundle: Json; problem?: string }> {
  const response = await fetch(url, { headers: { accept: 'application/fhir+json' } });
  const bundle = (await response.json()) as Json;
  if (response.status !== 200) {
    return { status: response.status, matches: [], included: [], bundle, problem: (bundle.issue ?? []).map((i: Json) => i.diagnostics).join('; ') };
  }
  const entries = (bundle.entry ?? []) as Json[];
  const keys = (mode: string) => entries.filter((e) => e.search?.mode === mode).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();
  return { status: 200, matches: keys('match').map((k) => k.slice(k.indexOf('/') + 1)), included: keys('include'), bundle };
}

interface IncludeCase {
  type: ResourceType;
  query: QueryPair[];
}

const isIncludeParameter = ([name]: QueryPair) => /^_(rev)?include(:iterate)?$/.test(name);

function includeRules(query: readonly QueryPair[]): IncludeParameter[] {
  return query.filter(isIncludeParameter).map(([name, value]) => ({
    kind: name.startsWith('_include') ? '_include' : '_revinclude', value, iterate: name.endsWith(':iterate'),
  }));
}

/**
 * _include of every declared reference parameter (and with a :Target),
 * _revinclude of every one that can point to the type, and :iterate of
 * the next step (_include then _include:iterate, _revinclude then
 * _revinclude:iterate or _include:iterate), alone and with filters.
 */
function includeCases(oracle: SearchOracle, queries: readonly GeneratedQuery[], random: () => number): IncludeCase[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const refs = (type: ResourceType) => PARAMS[type].filter((c) => oracle.param(type, c).type === 'reference');
  const targets = (type: ResourceType, code: string) => {
    const t = oracle.param(type, code).target;
    return TYPES.filter((i) => t.length === 0 || t.includes(i));
  };
  const rules: Array<{ type: ResourceType; rules: QueryPair[] }> = [];
  for (const type of INDEXED) {
    for (const code of refs(type)) {
      rules.push({ type, rules: [['_include', `${type}:${code}`]] });
      for (const target of targets(type, code).filter((t) => INDEXED.includes(t)).slice(0, 2)) {
        rules.push({ type, rules: [['_include', `${type}:${code}:${target}`]] });
        for (const next of refs(target)) rules.push({ type, rules: [['_include', `${type}:${code}`], ['_include:iterate', `${target}:${next}`]] });
      }
    }
  }
  for (const type of TYPES) {
    for (const source of INDEXED) {
      for (const code of refs(source).filter((c) => targets(source, c).includes(type))) {
        rules.push({ type, rules: [['_revinclude', `${source}:${code}`]] });
        for (const source2 of INDEXED) {
          for (const code2 of refs(source2).filter((c) => targets(source2, c).includes(source))) {
            if (random() < 0.5) rules.push({ type, rules: [['_revinclude', `${source}:${code}`], ['_revinclude:iterate', `${source2}:${code2}`]] });
          }
        }
        for (const code3 of refs(source).filter((c) => c !== code && targets(source, c).some((t) => INDEXED.includes(t)))) {
          if (random() < 0.5) rules.push({ type, rules: [['_revinclude', `${source}:${code}`], ['_include:iterate', `${source}:${code3}`]] });
        }
      }
    }
  }
  const cases: IncludeCase[] = [];
  for (const { type, rules: r } of rules) {
    cases.push({ type, query: r });
    const ids = oracle.search(type, []);
    if (ids.length > 0) cases.push({ type, query: [['_id', pick(ids)], ...r] });
    const filters = queries.filter((q) => q.type === type && q.category === 'spec' && q.feature === 'plain' && q.query.length === 1
      && oracle.search(type, q.query).length > 0);
    if (filters.length > 0) cases.push({ type, query: [pick(filters).query[0]!, ...r] });
  }
  return cases;
}

interface Launched {
  orthanc: Orthanc;
  dispose(): Promise<void>;
}

/** The oracle's checks against one server: the embedded SQLite store, or the PostgreSQL one (the same answers). */
function oracleSuite(title: string, launch: () => Promise<Launched>): void {
  describe(title, function () {
    this.timeout(300000);
    let orthanc: Orthanc;
    let launched: Launched | undefined;
    let oracle: SearchOracle;
    const listing = new Map<ResourceType, FhirResource[]>();
    const queries: GeneratedQuery[] = [];
    const answers = new Map<GeneratedQuery, SearchAnswer>();
    // The R4 view of the same data: its listing, its oracle, the queries of the R4 pass and their answers.
    let r4Url: string;
    let r4Oracle: SearchOracle;
    const r4Listing = new Map<ResourceType, FhirResource[]>();
    const r4Problems: string[] = [];
    const r4Queries: Array<{ r5: GeneratedQuery; query: QueryPair[]; expected: string[] }> = [];
    const r4Skipped: string[] = [];
    const r4Answers = new Map<QueryPair[], SearchAnswer>();

    before(async () => {
      launched = await launch();
      orthanc = launched.orthanc;
      const dataset = seededDataset(SEED);
      sendDataset(orthanc.dicomPort, dataset);
      const deadline = Date.now() + 60000;
      for (;;) {
        const statistics = (await (await fetch(`${orthanc.url}/statistics`)).json()) as Json;
        if (statistics.CountInstances === dataset.instances.length) break;
        if (Date.now() > deadline) throw new Error(`Orthanc has ${statistics.CountInstances} of ${dataset.instances.length} instances`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const random = prng(SEED ^ 0x0de5);
      const patientIds = ((await (await fetch(`${orthanc.url}/patients`)).json()) as string[]).sort();
      const requests = orders(patientIds, random);
      const requestIds: string[] = [];
      for (const request of requests) requestIds.push((await create(orthanc.fhirUrl, request)).id);
      const expanded = (await (await fetch(`${orthanc.url}/patients?expand`)).json()) as Json[];
      const patientOf = (patientId: string) => expanded.find((p) => p.MainDicomTags.PatientID === patientId)!.ID as string;
      for (const request of linkedOrders(patientOf, requestIds[0]!)) {
        requests.push(request);
        requestIds.push((await create(orthanc.fhirUrl, request)).id);
      }
      // No Task for the linked orders: their studies are here, and the order tracker would move such Tasks on meanwhile.
      for (const t of tasks(requestIds.slice(0, 10), requests, random)) await create(orthanc.fhirUrl, t);
      for (const type of TYPES) {
        const answer = await searchAll(`${orthanc.fhirUrl}/${type}?_count=1000`);
        expect(answer.status, `listing ${type}: ${answer.problem}`).to.equal(200);
        const resources: FhirResource[] = [];
        for (const id of answer.ids) {
          const read = await fetch(`${orthanc.fhirUrl}/${type}/${encodeURIComponent(id)}`, { headers: { accept: 'application/fhir+json' } });
          expect(read.status, `${type}/${id}`).to.equal(200);
          resources.push((await read.json()) as FhirResource);
        }
        listing.set(type, resources.sort((a, b) => a.id.localeCompare(b.id)));
      }
      // The oracle sees the resources as a read returns them: what the search must be about.
      oracle = new SearchOracle(TYPES.flatMap((t) => listing.get(t)!), orthanc.fhirUrl);
      queries.push(...new Generator(oracle, orthanc.fhirUrl, SEED).generate());
      for (const generated of queries) {
        const url = `${orthanc.fhirUrl}/${generated.type}?${encodeQuery(generated.query)}&_count=1000`;
        answers.set(generated, await searchAll(url));
      }

      // R4: the listing at <fhir>/R4, read one by one, each resource validated; the R4 oracle over it.
      loadR4Schema();
      r4Url = `${orthanc.fhirUrl}/R4`;
      const validate = (what: string, resource: unknown) => r4Problems.push(...validateR4(resource).map((p) => `${what}: ${p}`));
      for (const type of TYPES) {
        const answer = await searchAll(`${r4Url}/${type}?_count=1000`);
        expect(answer.status, `R4 listing ${type}: ${answer.problem}`).to.equal(200);
        answer.bundles.forEach((b, i) => validate(`R4 ${type} listing page ${i}`, b));
        const resources: FhirResource[] = [];
        for (const id of answer.ids) {
          const read = await fetch(`${r4Url}/${type}/${encodeURIComponent(id)}`, { headers: { accept: 'application/fhir+json' } });
          expect(read.status, `R4 ${type}/${id}`).to.equal(200);
          const resource = (await read.json()) as FhirResource;
          validate(`R4 ${type}/${id}`, resource);
          resources.push(resource);
        }
        r4Listing.set(type, resources.sort((a, b) => a.id.localeCompare(b.id)));
      }
      r4Oracle = new SearchOracle(TYPES.flatMap((t) => r4Listing.get(t)!), r4Url, 'R4');
      // A selection: every other chain, _has and _lastUpdated query, every fourth plain one.
      queries.forEach((q, i) => {
        if (q.category !== 'spec' || i % (q.feature === 'plain' ? 4 : 2) !== 0) return;
        const query = queryToR4(q.type, q.query, oracle, orthanc.fhirUrl);
        try {
          r4Queries.push({ r5: q, query, expected: r4Oracle.search(q.type, query) });
        } catch (error) {
          // A parameter R4 does not define, or a value form the oracle does not model in R4.
          r4Skipped.push(`${q.type}?${encodeQuery(query)}: ${(error as Error).message}`);
        }
      });
      for (const { r5, query } of r4Queries) {
        const answer = await searchAll(`${r4Url}/${r5.type}?${encodeQuery(query)}&_count=1000`);
        answer.bundles.forEach((b, i) => validate(`R4 ${r5.type}?${encodeQuery(query)} page ${i}`, b));
        r4Answers.set(query, answer);
      }
    });
    after(async () => launched?.dispose());

    const show = (q: GeneratedQuery) => `${q.type}?${encodeQuery(q.query)}`;

    it('serves the whole dataset and declares exactly the parameters the oracle checks', async () => {
      expect(listing.get('Patient')).to.have.length(5);
      expect(listing.get('ImagingStudy')).to.have.length(6);
      expect(listing.get('Endpoint')).to.have.length(1);
      expect(listing.get('ServiceRequest')).to.have.length(12);
      expect(listing.get('Task')!.length).to.be.within(10, 20);
      // The orders of the dataset's studies are referred to literally (chains and _has through ImagingStudy:based-on).
      const linked = listing.get('ImagingStudy')!.filter((s) => ((s.basedOn ?? []) as Json[]).some((b) => /^ServiceRequest\//.test(b.reference ?? '')));
      expect(linked, 'studies based on a ServiceRequest of this server').to.have.length(2);
      const statement = (await (await fetch(`${orthanc.fhirUrl}/metadata`)).json()) as Json;
      for (const type of TYPES) {
        const declared = statement.rest[0].resource.find((r: Json) => r.type === type).searchParam.map((p: Json) => p.name).sort();
        expect(declared, type).to.deep.equal([...PARAMS[type]].sort());
      }
    });

    it('generates a broad set of queries, matching some resources and not others', () => {
      expect(queries.length).to.be.greaterThan(150);
      const sizes = queries.map((q) => oracle.search(q.type, q.query).length);
      const total = (type: ResourceType) => listing.get(type)!.length;
      // Not a vacuous comparison: many queries select a proper, non-empty subset.
      expect(sizes.filter((n) => n === 0).length, 'queries matching nothing').to.be.greaterThan(30);
      expect(queries.filter((q, i) => sizes[i]! > 0 && sizes[i]! < total(q.type)).length, 'proper subsets').to.be.greaterThan(100);
      for (const type of TYPES) {
        for (const code of PARAMS[type]) {
          expect(queries.some((q) => q.type === type && q.query.some(([name]) => name.split(':')[0] === code)), `${type}.${code}`).to.equal(true);
        }
      }
    });

    it('never answers a generated query with a server error', () => {
      const errors = queries.filter((q) => answers.get(q)!.status >= 500).map((q) => `${show(q)} -> ${answers.get(q)!.status} ${answers.get(q)!.problem}`);
      expect(errors, errors.join('\n')).to.deep.equal([]);
    });

    it('returns only resources of the full listing, as a read returns them, each at most once', () => {
      const problems: string[] = [];
      for (const q of queries) {
        const known = new Map(listing.get(q.type)!.map((r) => [r.id, canonical(r)]));
        const { ids, resources } = answers.get(q)!;
        const unknown = ids.filter((id) => !known.has(id));
        if (unknown.length > 0) problems.push(`${show(q)}: not in the listing: ${unknown.join(', ')}`);
        if (new Set(ids).size !== ids.length) problems.push(`${show(q)}: duplicates in ${ids.join(', ')}`);
        // The oracle judged the resources a read returns; a search must serve those, not a summary.
        const differing = resources.filter((r) => known.has(r.id) && canonical(r) !== known.get(r.id));
        if (differing.length > 0) problems.push(`${show(q)}: differs from its read: ${differing.map((r) => r.id).join(', ')}`);
      }
      expect(problems.length, problems.join('\n')).to.equal(0);
    });

    /** A resource id with what a reader recognizes it by (PatientID, accession number). */
    const label = (type: ResourceType, id: string) => {
      const resource = listing.get(type)!.find((r) => r.id === id);
      const identifiers = (resource?.identifier ?? []) as Json[];
      const known = type === 'Patient' ? identifiers[0]?.value
        : type === 'ImagingStudy' ? identifiers.find((i) => i.system === undefined)?.value ?? 'no accession'
          : undefined;
      return known ? `${id} (${known})` : id;
    };

    /** Every query of the selection whose answer differs from the oracle's, described. */
    const disagreements = (selection: GeneratedQuery[], expectedOf = (q: GeneratedQuery) => oracle.search(q.type, q.query)): string[] => {
      const mismatches: string[] = [];
      for (const q of selection) {
        const name = (id: string) => label(q.type, id);
        const expected = expectedOf(q);
        const answer = answers.get(q)!;
        const actual = [...answer.ids].sort();
        if (answer.status !== 200) {
          mismatches.push(`${show(q)}\n    status ${answer.status}: ${answer.problem}\n    expected [${expected.map(name).join(', ')}]`);
        } else if (JSON.stringify(expected) !== JSON.stringify(actual)) {
          const missing = expected.filter((id) => !actual.includes(id));
          const extra = actual.filter((id) => !expected.includes(id));
          mismatches.push(`${show(q)}\n    expected [${expected.map(name).join(', ')}]\n    actual   [${actual.map(name).join(', ')}]`
            + `\n    missing [${missing.map(name).join(', ')}] extra [${extra.map(name).join(', ')}]`);
        }
      }
      return mismatches;
    };

    const agree = (selection: GeneratedQuery[], what: string, expectedOf?: (q: GeneratedQuery) => string[]) => {
      const mismatches = disagreements(selection, expectedOf);
      // The count, not a deep-equal of the list: chai's diff would print every mismatch twice.
      expect(mismatches.length, `${mismatches.length} of ${selection.length} ${what} disagree (seed ${SEED}):\n${mismatches.join('\n')}`)
        .to.equal(0);
    };

    for (const type of TYPES) {
      it(`returns exactly the ${type} resources the oracle selects, for every generated query`, () => {
        agree(queries.filter((q) => q.type === type && q.category === 'spec' && q.feature === 'plain'), `${type} queries`);
      });
    }

    const FEATURES: Array<[Feature, string, number]> = [
      ['chain', 'chained parameters (one and two levels, typed and untyped)', 150],
      ['has', '_has reverse chains (nested too)', 60],
      ['lastUpdated', '_lastUpdated (day and instant precision)', 100],
    ];
    for (const [feature, what, least] of FEATURES) {
      it(`returns exactly what the oracle selects for ${what}`, () => {
        const selection = queries.filter((q) => q.feature === feature && q.category === 'spec');
        expect(selection.length, `${feature} queries`).to.be.greaterThan(least);
        const sizes = selection.map((q) => oracle.search(q.type, q.query).length);
        const total = (q: GeneratedQuery) => listing.get(q.type)!.length;
        expect(selection.filter((q, i) => sizes[i]! > 0 && sizes[i]! < total(q)).length, `${feature} queries selecting a proper subset`)
          .to.be.greaterThan(selection.length / 4);
        agree(selection, `${feature} queries`);
      });
    }

    it('includes and reverse-includes (also :iterate) exactly the resources the oracle follows to', async () => {
      const cases = includeCases(oracle, queries, prng(SEED ^ 0x1c1));
      expect(cases.length).to.be.greaterThan(60);
      const problems: string[] = [];
      let nonEmpty = 0;
      for (const c of cases) {
        const url = `${orthanc.fhirUrl}/${c.type}?${encodeQuery(c.query)}&_count=1000`;
        const answer = await includeAnswer(url);
        const show = `${c.type}?${encodeQuery(c.query)}`;
        if (answer.status !== 200) {
          problems.push(`${show}\n    status ${answer.status}: ${answer.problem}`);
          continue;
        }
        const matches = oracle.matches(c.type, c.query.filter((p) => !isIncludeParameter(p)));
        const expected = oracle.included(matches, includeRules(c.query));
        if (expected.length > 0) nonEmpty++;
        if (JSON.stringify(answer.matches) !== JSON.stringify(matches.map((m) => m.id).sort())) problems.push(`${show}\n    matches [${answer.matches}] expected [${matches.map((m) => m.id).sort()}]`);
        if (JSON.stringify(answer.included) !== JSON.stringify(expected)) {
          problems.push(`${show}\n    included [${answer.included.join(', ')}]\n    expected [${expected.join(', ')}]`
            + `\n    missing [${expected.filter((k) => !answer.included.includes(k)).join(', ')}] extra [${answer.included.filter((k) => !expected.includes(k)).join(', ')}]`);
        }
      }
      expect(nonEmpty, 'cases that include something').to.be.greaterThan(cases.length / 3);
      expect(problems.length, `${problems.length} of ${cases.length} include cases disagree:\n${problems.join('\n')}`).to.equal(0);
    });

    describe('the R4 view (<fhir>/R4) against the official R4 definitions', () => {
      it('serves the same resources, each valid R4', () => {
        for (const type of TYPES) expect(r4Listing.get(type)!.map((r) => r.id), type).to.deep.equal(listing.get(type)!.map((r) => r.id));
        expect(r4Problems.length, `${r4Problems.length} R4 validation problems:\n${r4Problems.slice(0, 50).join('\n')}`).to.equal(0);
      });

      it('returns exactly what the R4 oracle selects, for a selection of the generated queries in R4 names', () => {
        expect(r4Queries.length).to.be.greaterThan(400);
        for (const feature of ['plain', 'chain', 'has', 'lastUpdated'] as const) {
          expect(r4Queries.filter((q) => q.r5.feature === feature).length, `R4 ${feature} queries`).to.be.greaterThan(30);
        }
        // Only what R4 lacks may be skipped (ServiceRequest code-reference-like R5-only names, none declared here).
        expect(r4Skipped.length, r4Skipped.join('\n')).to.be.lessThan(r4Queries.length / 20);
        const mismatches: string[] = [];
        for (const { r5, query, expected } of r4Queries) {
          const answer = r4Answers.get(query)!;
          const actual = [...answer.ids].sort();
          const show = `R4 ${r5.type}?${encodeQuery(query)}`;
          if (answer.status !== 200) mismatches.push(`${show}\n    status ${answer.status}: ${answer.problem}\n    expected [${expected.join(', ')}]`);
          else if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            mismatches.push(`${show}\n    expected [${expected.join(', ')}]\n    actual   [${actual.join(', ')}]`);
          }
        }
        expect(mismatches.length, `${mismatches.length} of ${r4Queries.length} R4 queries disagree (seed ${SEED}):\n${mismatches.join('\n')}`).to.equal(0);
      });

      it('answers Accept: application/fhir+json; fhirVersion=4.0 on the R5 base as on <fhir>/R4', async () => {
        const problems: string[] = [];
        for (const { r5, query } of r4Queries.filter((_, i) => i % 10 === 0)) {
          // On the R5 base, absolute references are under it.
          const onBase = queryToR4(r5.type, r5.query, oracle, orthanc.fhirUrl, false);
          const answer = await searchAll(`${orthanc.fhirUrl}/${r5.type}?${encodeQuery(onBase)}&_count=1000`, 'application/fhir+json; fhirVersion=4.0');
          const viaPath = r4Answers.get(query)!;
          if (answer.status !== viaPath.status || JSON.stringify(answer.ids) !== JSON.stringify(viaPath.ids)) {
            problems.push(`${r5.type}?${encodeQuery(query)}: ${answer.status} [${answer.ids}] with fhirVersion=4.0, ${viaPath.status} [${viaPath.ids}] at /R4`);
          }
          for (const b of answer.bundles) problems.push(...validateR4(b).map((p) => `${r5.type}?${encodeQuery(query)}: ${p}`));
        }
        expect(problems, problems.join('\n')).to.deep.equal([]);
      });

      it('includes and reverse-includes in R4 exactly what the R4 oracle follows to', async () => {
        const cases = includeCases(oracle, queries, prng(SEED ^ 0x4a4)).filter((_, i) => i % 5 === 0);
        const problems: string[] = [];
        for (const c of cases) {
          const query = queryToR4(c.type, c.query, oracle, orthanc.fhirUrl);
          const show = `R4 ${c.type}?${encodeQuery(query)}`;
          let matches: FhirResource[];
          try {
            matches = r4Oracle.matches(c.type, query.filter((p) => !isIncludeParameter(p)));
          } catch (error) {
            if (error instanceof OracleUnsupported) continue;
            throw error;
          }
          const expected = r4Oracle.included(matches, includeRules(query));
          const answer = await includeAnswer(`${r4Url}/${c.type}?${encodeQuery(query)}&_count=1000`);
          if (answer.status !== 200) {
            problems.push(`${show}\n    status ${answer.status}: ${answer.problem}`);
            continue;
          }
          problems.push(...validateR4(answer.bundle).map((p) => `${show}: ${p}`));
          if (JSON.stringify(answer.matches) !== JSON.stringify(matches.map((m) => m.id).sort())) problems.push(`${show}\n    matches [${answer.matches}]`);
          if (JSON.stringify(answer.included) !== JSON.stringify(expected)) problems.push(`${show}\n    included [${answer.included.join(', ')}]\n    expected [${expected.join(', ')}]`);
        }
        expect(problems.length, `${problems.length} of ${cases.length} R4 include cases disagree:\n${problems.join('\n')}`).to.equal(0);
      });
    });

    it('pages through the answers with _count=2 to the same resources, each once', async () => {
      const problems: string[] = [];
      const selection = queries.filter((q, i) => q.category === 'spec' && i % 5 === 0);
      expect(selection.length).to.be.greaterThan(50);
      for (const q of selection) {
        const paged = await searchAll(`${orthanc.fhirUrl}/${q.type}?${encodeQuery(q.query)}&_count=2`);
        const whole = answers.get(q)!;
        if (paged.status !== whole.status) problems.push(`${show(q)}: ${paged.status} paged, ${whole.status} whole`);
        else if (JSON.stringify(paged.ids) !== JSON.stringify(whole.ids)) problems.push(`${show(q)}: paged [${paged.ids}] whole [${whole.ids}]`);
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('sorts by every date parameter, both ways, with the resources without a value last', async () => {
      const problems: string[] = [];
      for (const type of TYPES) {
        for (const code of PARAMS[type].filter((c) => oracle.param(type, c).type === 'date')) {
          for (const descending of [false, true]) {
            const answer = await searchAll(`${orthanc.fhirUrl}/${type}?_sort=${descending ? '-' : ''}${code}&_count=3`);
            const expected = oracle.search(type, []);
            if (JSON.stringify([...answer.ids].sort()) !== JSON.stringify(expected)) problems.push(`${type}?_sort=${code}: not every resource`);
            // The key of each resource: its lowest start ascending, its highest end descending (search.html).
            const keys = answer.resources.map((r) => {
              const values = oracle.select(r, code).map((v) => v.data);
              if (values.length === 0) return undefined;
              // A Period open at one end is open there (search.html: an open end extends forever).
              const lows = values.map((d) => (typeof d === 'string' ? dateRange(d).low : (d as Json).start ? dateRange((d as Json).start).low : -Infinity));
              const highs = values.map((d) => (typeof d === 'string' ? dateRange(d).high : (d as Json).end ? dateRange((d as Json).end).high : Infinity));
              return descending ? Math.max(...highs) : Math.min(...lows);
            });
            const firstMissing = keys.indexOf(undefined);
            const present = (firstMissing < 0 ? keys : keys.slice(0, firstMissing)) as number[];
            if (firstMissing >= 0 && keys.slice(firstMissing).some((k) => k !== undefined)) problems.push(`${type}?_sort=${code}: a value after a missing one`);
            for (let i = 1; i < present.length; i++) {
              if (descending ? present[i]! > present[i - 1]! : present[i]! < present[i - 1]!) problems.push(`${type}?_sort=${descending ? '-' : ''}${code}: out of order at ${i}`);
            }
          }
        }
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });

    it('includes exactly the resources the matches refer to, and reverse-includes exactly those referring to them', async () => {
      const cases: Array<[ResourceType, string, ResourceType, (match: Json, other: Json) => boolean]> = [
        ['Task', '_include=Task:based-on', 'ServiceRequest', (t, sr) => t.basedOn.some((b: Json) => b.reference === `ServiceRequest/${sr.id}`)],
        ['ServiceRequest', '_revinclude=Task:based-on', 'Task', (sr, t) => t.basedOn.some((b: Json) => b.reference === `ServiceRequest/${sr.id}`)],
        ['ImagingStudy', '_include=ImagingStudy:subject', 'Patient', (s, p) => s.subject?.reference === `Patient/${p.id}`],
        ['Patient', '_revinclude=ImagingStudy:subject', 'ImagingStudy', (p, s) => s.subject?.reference === `Patient/${p.id}`],
      ];
      for (const [type, include, other, refers] of cases) {
        // The first match that refers (or is referred) to something: not every order has Tasks.
        const first = listing.get(type)!.find((m) => listing.get(other)!.some((o) => refers(m, o))) ?? listing.get(type)![0]!;
        for (const filter of ['', `&_id=${first.id}`]) {
          const response = await fetch(`${orthanc.fhirUrl}/${type}?${include}${filter}&_count=1000`, { headers: { accept: 'application/fhir+json' } });
          const body = (await response.json()) as Json;
          const entries = (body.entry ?? []) as Json[];
          const matches = entries.filter((e) => e.search.mode === 'match').map((e) => e.resource);
          const included = entries.filter((e) => e.search.mode === 'include').map((e) => e.resource.id).sort();
          const expected = listing.get(other)!.filter((o) => matches.some((m) => refers(m, o)) && !matches.some((m) => m.resourceType === other && m.id === o.id))
            .map((o) => o.id).sort();
          expect(included, `${type}?${include}${filter}`).to.deep.equal(expected);
          expect(expected.length, `${type}?${include}${filter} includes something`).to.be.greaterThan(0);
        }
      }
    });

    // The server accepts a DICOM UID with or without urn:oid: (README: the
    // issue asks for the study UID "with or without urn:oid:"), a documented
    // widening of exact token matching: the other form must find exactly what
    // the form stored in the resource finds.
    it('finds by a DICOM UID written with or without urn:oid: what the stored form finds', () => {
      const storedForm = (q: GeneratedQuery) =>
        oracle.search(q.type, q.query.map(([name, value]): QueryPair =>
          [name, value.startsWith('urn:oid:') ? value.slice('urn:oid:'.length) : `urn:oid:${value}`]));
      agree(queries.filter((q) => q.category === 'uid-form'), 'UID-form queries', storedForm);
    });

    it("gives a code of a several-system value set its own system: '|code' matches nothing", () => {
      const selection = queries.filter((q) => q.category === 'multi-system-code');
      expect(selection.length).to.be.greaterThan(0);
      agree(selection, 'several-system code queries', () => []);
    });

    it("gives a bound code its value set's system: 'system|' matches, '|code' does not", () => {
      agree(queries.filter((q) => q.category === 'implicit-system'), 'implicit-system queries');
    });

    it('has an oracle that gets hand-checked cases right (so that agreement means something)', () => {
      expect(foldString('Müller')).to.equal('muller');
      expect(foldString('SEÁN')).to.equal('sean');
      expect(dateRange('2024-01-31T10:15:30+01:00')).to.deep.equal({ low: Date.UTC(2024, 0, 31, 9, 15, 30), high: Date.UTC(2024, 0, 31, 9, 15, 31) });
      const year = dateRange('2024');
      const day = dateRange('2024-01-31');
      expect(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'].filter((p) => dateMatches(p, year, day))).to.deep.equal(['eq', 'ge', 'le']);
      expect(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'].filter((p) => dateMatches(p, day, year))).to.deep.equal(['ne', 'gt', 'lt', 'ge', 'le']);
      expect(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'].filter((p) => dateMatches(p, year, dateRange('2025-01-01')))).to.deep.equal(['ne', 'gt', 'ge', 'sa']);

      const patient = (patientId: string) => listing.get('Patient')!.find((p) => (p.identifier as Json[])[0]!.value === patientId)!.id;
      const muller = patient('MRN 001/2024-A');
      const search = (type: ResourceType, ...query: QueryPair[]) => oracle.search(type, query);
      expect(search('Patient', ['name', 'JURGEN'])).to.deep.equal([muller]);
      expect(search('Patient', ['name:exact', 'Jurgen'])).to.deep.equal([]);
      expect(search('Patient', ['name', 'やまだ'])).to.deep.equal([patient('JP-0002')]);
      expect(search('Patient', ['birthdate:missing', 'true'])).to.deep.equal([patient("O'Brien #3")]);
      expect(search('Patient', ['gender:not', 'male'])).to.have.length(4).and.not.include(muller);
      expect(search('Patient', ['gender', 'http://hl7.org/fhir/administrative-gender|male'])).to.deep.equal([muller]);
      expect(search('Patient', ['identifier', 'MRN 001/2024-A'], ['birthdate', 'le1965'])).to.deep.equal([muller]);
      expect(search('ImagingStudy', ['patient', `Patient/${muller}`])).to.have.length(2);
      expect(search('ImagingStudy', ['subject', `Group/${muller}`])).to.deep.equal([]);
      expect(search('ImagingStudy', ['endpoint', `${orthanc.fhirUrl}/Endpoint/dicomweb`])).to.have.length(6);
      expect(search('ImagingStudy', ['modality', 'CT'], ['modality', 'PT'])).to.have.length(1);
      expect(search('ImagingStudy', ['based-on:identifier', 'ACC-TWIN'])).to.have.length(2);
      expect(search('ImagingStudy', ['referrer:missing', 'false'])).to.have.length(1);
    });
  });
}

oracleSuite('search results agree with the official SearchParameter expressions (oracle)', async () => {
  const orthanc = await Orthanc.start({ withDicomWeb: true, fhir: { Enable: true } });
  return { orthanc, dispose: () => orthanc.dispose() };
});

oracleSuite('on PostgreSQL, search results agree with the official SearchParameter expressions (oracle)', async () => {
  const cluster = await PostgresCluster.start();
  try {
    // Orthanc's index and the FHIR tables in one database, as a site runs them.
    const orthanc = await Orthanc.start({
      withDicomWeb: true, fhir: { Enable: true, Store: 'PostgreSQL' },
      extraPlugins: [POSTGRESQL_INDEX_PLUGIN], extra: { PostgreSQL: cluster.orthancIndexConfig() },
    });
    return { orthanc, dispose: async () => { await orthanc.dispose(); await cluster.dispose(); } };
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
});
