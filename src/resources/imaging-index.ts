// The search index of the imaging resources (Patient, ImagingStudy), derived
// from Orthanc's change log: never a second source of truth (reads stay live
// from Orthanc, and a search re-checks what it returns), and rebuilt from
// Orthanc when it is missing or was made with other settings.
//
// - Following: each page of /changes names the studies and patients that
//   changed; they are read live and re-indexed (or removed), the page's
//   study events are handed on (the order tracker moves Tasks on), and the
//   cursor advances, all in one store transaction.
// - Consistent at query time: a search of an imaging type first applies
//   Orthanc's changes up to the latest one (current()).
// - Built on an existing Orthanc: every study is indexed in the background,
//   in batches, with progress in Orthanc's log; until it is done, current()
//   says so and searches take the live path.
// - Shared: several Orthancs on one PostgreSQL store (and one Orthanc index)
//   share one imaging index. A page of changes is applied under a lock of the
//   store, by one Orthanc at a time, and only if the cursor is still where it
//   was read (so each change is applied once); one Orthanc builds, the others
//   wait for it (and take over if it stops). Orthanc's change events reach
//   only the Orthanc that received the images: the others poll the log.
import type { Resource } from '../fhir/types';
import type { OrthancClient } from '../orthanc/client';
import type { Store, StoreWriter } from '../store/store';
import type { OrthancStudy } from './imaging';
import type { ImagingReader } from './imaging-reader';
import { gapRanges, gapsAfter, parseGaps, type Gap } from './change-gaps';
import { mergePatient } from './patient-identity';
import type { StudyChange } from './subscription-events';
import type { TopicEvent } from './subscription-topics';

const CURSOR = 'orthanc-changes-seq';
/** Numbers skipped in the change log, waited for (change-gaps.ts). */
const GAPS = 'orthanc-changes-gaps';
const BUILT = 'imaging-index-built';
const BUILD_OFFSET = 'imaging-index-build-offset';
const SIGNATURE = 'imaging-index-signature';
/** Bumped when what the index holds of an imaging resource changes. */
const IMAGING_INDEX_VERSION = 1;
const CHANGES_PAGE = 200;
/** How long a search waits for the index to apply Orthanc's latest changes before it reads Orthanc live. */
const CATCH_UP_WAIT_MS = 3000;
/** Changes that alter what the index holds of a resource (a Stable* one only says no more came for a while). */
const REINDEXING = new Set(['NewInstance', 'NewSeries', 'NewStudy', 'NewPatient', 'Deleted', 'UpdatedAttachment', 'UpdatedMetadata']);
const BUILD_BATCH = 100;
/** Live reads in flight at once while indexing (Orthanc's REST calls run on its own threads). */
const PARALLEL_READS = 8;

interface Change {
  ChangeType: string;
  ResourceType: string;
  ID: string;
  Seq: number;
}

interface Changes {
  Changes: Change[];
  Last: number;
  Done: boolean;
}

/** A study that arrived (NewStudy) or became stable (StableStudy), for the order tracker. */
export interface StudyEvent {
  studyId: string;
  stable: boolean;
  study: OrthancStudy;
}

export type StudyEventHandler = (events: readonly StudyEvent[]) => Promise<void>;
/** Told, inside a page's transaction and before the index is written, what the page did to each study. */
export type StudyChangeHandler = (writer: StoreWriter, changes: readonly StudyChange[]) => Promise<void>;

const STUDY_EVENTS: Readonly<Record<string, TopicEvent>> = { NewStudy: 'create', StableStudy: 'stable', Deleted: 'delete' };

/**
 * The events of one study in a page: a new study's instances are part of its
 * creation, a deleted study's changes before its deletion are moot. Without
 * its resource (gone from Orthanc), its Subscriptions are matched against
 * the index.
 */
function studyChange(studyId: string, found: ReadonlySet<TopicEvent>, resource: Resource | undefined): StudyChange {
  let events = [...found].sort((a, b) => EVENT_ORDER.indexOf(a) - EVENT_ORDER.indexOf(b));
  if (found.has('create')) events = events.filter((event) => event !== 'update');
  if (found.has('delete')) events = ['delete'];
  return { studyId, events, ...(resource ? { resource } : {}) };
}

const EVENT_ORDER: readonly TopicEvent[] = ['create', 'update', 'stable', 'delete'];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Maps with at most `limit` calls in flight. */
async function mapLimited<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface Indexed {
  studies: Array<{ id: string; resource?: Resource; study?: OrthancStudy }>;
  /** DICOM side of each patient (undefined: gone from Orthanc), merged with the stored one inside the transaction. */
  patients: Array<{ id: string; dicom?: Resource }>;
}

export class ImagingIndex {
  private built = false;
  private running?: Promise<void>;
  private queued?: Promise<void>;
  private building = false;
  private behind = false;
  private failing = false;
  private timer?: ReturnType<typeof setInterval>;
  private onStudies: StudyEventHandler = async () => undefined;
  private onChanges: StudyChangeHandler = async () => undefined;
  private starting?: Promise<void>;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(
    private readonly orthanc: OrthancClient,
    private readonly reader: ImagingReader,
    private readonly store: Store,
    private readonly log: { info(message: string): void; error(message: string): void },
    /** What the index depends on besides the data (settings, the DICOMweb plugin): a change rebuilds it. */
    private readonly settings: () => Promise<Record<string, unknown>>,
  ) {}

  /** Who hears of studies arriving (the order tracker); called inside the page's transaction. */
  onStudyEvents(handler: StudyEventHandler): void {
    this.onStudies = handler;
  }

  /** Who hears what each page of changes did to the studies (the Subscriptions' events). */
  onStudyChanges(handler: StudyChangeHandler): void {
    this.onChanges = handler;
  }

  /** Whether searches may use the index (it holds every study). */
  get ready(): boolean {
    return this.built;
  }

  /**
   * Checks what the index was built with, then follows the change log and
   * builds what is missing, in the background. Once per environment: on
   * Orthanc's start, or on the first search or change after the
   * environment was recreated.
   */
  start(): Promise<void> {
    this.starting ??= this.store.outside(() => this.begin());
    this.starting.catch(() => (this.starting = undefined));
    return this.starting;
  }

  private async begin(): Promise<void> {
    const signature = JSON.stringify({ version: IMAGING_INDEX_VERSION, ...(await this.settings()) });
    if ((await this.store.setting(SIGNATURE)) !== signature) {
      await this.store.transaction(async (writer) => {
        // Another Orthanc of the same configuration may have reset it a moment ago.
        if ((await writer.setting(SIGNATURE)) === signature) return;
        await writer.putSetting(SIGNATURE, signature);
        await writer.putSetting(BUILT, 'no');
        await writer.putSetting(BUILD_OFFSET, '0');
      });
    }
    this.built = (await this.store.setting(BUILT)) === 'yes';
    void this.wake();
    if (!this.built) void this.build();
  }

  /**
   * Follows the change log every `intervalMs` too (several Orthancs share
   * the store: the change events of the images one receives reach only
   * that one), and takes over the build if the Orthanc building stopped.
   */
  poll(intervalMs: number): void {
    this.timer = setInterval(() => {
      void this.start().then(() => {
        if (!this.built) void this.build();
        return this.wake();
      }).catch(() => undefined); // logged where it failed; the next tick retries
    }, intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Applies Orthanc's changes up to the latest one; resolves when a run
   * that started after this call has finished. True when the index is
   * complete and current, false when a search must take the live path.
   */
  async current(): Promise<boolean> {
    try {
      await this.start();
    } catch {
      return false;
    }
    // Another Orthanc may have completed the build.
    if (!this.built) this.built = (await this.store.setting(BUILT).catch(() => undefined)) === 'yes';
    if (!this.built) return false;
    // Inside a transaction (a condition of a Bundle entry), the follower's
    // own transaction would wait for this one: use the index as it is.
    if (this.store.inTransaction) return true;
    try {
      // Behind by more than a moment (a burst of images being indexed): the
      // live path answers consistently meanwhile, instead of the search
      // waiting for the whole backlog.
      const caughtUp = await Promise.race([this.wake().then(() => true), sleep(CATCH_UP_WAIT_MS).then(() => false)]);
      if (!caughtUp && !this.behind) this.log.info('the imaging index is behind Orthanc\'s changes (images arriving fast): imaging searches read Orthanc live until it catches up');
      this.behind = !caughtUp;
      return caughtUp && this.built;
    } catch {
      return false;
    }
  }

  /** Follows the change log once more (a change event, a search); calls while it runs share the next run. */
  wake(): Promise<void> {
    if (!this.running) {
      this.running = this.store.outside(() => this.follow()).finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.wake();
    });
    return this.queued;
  }

  /**
   * Indexes again the studies of these StudyInstanceUIDs and accession
   * numbers, read live: their basedOn (the order of their UID or accession)
   * changes when such an order is written. Under the same lock as the change
   * log, so that a page of changes and this never interleave.
   */
  async refreshStudies(keys: { uids: readonly string[]; accessions: readonly string[] }): Promise<void> {
    const values = [...keys.uids.map((uid) => `urn:oid:${uid}`), ...keys.accessions];
    if (values.length === 0) return;
    const ids = await this.store.lookup('ImagingStudy', 'identifier', values);
    if (ids.length === 0) return;
    // One refresh at a time in this process: many orders written at once must not each hold a
    // connection waiting for the shared lock (PostgreSQL), which the lock's holder needs.
    const run = this.refreshing.then(() => this.serialized(async () => {
      const indexed = await this.read(ids);
      await this.store.transaction((writer) => this.write(writer, indexed));
    }));
    this.refreshing = run.catch(() => undefined);
    await run;
  }

  /** One at a time, across the Orthancs sharing the store: a page of changes or a batch of the build. */
  private async serialized<T>(work: () => Promise<T>): Promise<T> {
    return (await this.store.exclusive('imaging-index', work)) as T;
  }

  private async follow(): Promise<void> {
    try {
      while (!(await this.serialized(() => this.followPage()))) {
        // next page
      }
      if (this.failing) this.log.info("following Orthanc's changes again");
      this.failing = false;
    } catch (error) {
      // Once per outage (the poll retries every second), not once per try.
      if (!this.failing) this.log.error(`following Orthanc's changes failed (retried at the next change, search or poll): ${(error as Error)?.stack ?? String(error)}`);
      this.failing = true;
      throw error;
    }
  }

  /**
   * Applies one page of changes, and those that appeared meanwhile in the
   * gaps of earlier pages (change-gaps.ts); true when the log has no more.
   */
  private async followPage(): Promise<boolean> {
    const since = Number((await this.store.setting(CURSOR)) ?? '0');
    const gapsText = await this.store.setting(GAPS);
    const pending = parseGaps(gapsText);
    const page = await this.orthanc.getJson<Changes>(`/changes?since=${since}&limit=${CHANGES_PAGE}`);
    const fresh = page?.Changes ?? [];
    const late = await this.lateChanges(pending);
    const now = Date.now();
    const gaps = gapsAfter(pending, since, fresh.map((c) => c.Seq), new Set(late.map((c) => c.Seq)), now);
    // Nothing new (what most searches find): no transaction, no disk write.
    if (fresh.length === 0 && late.length === 0 && gaps.length === pending.length) return true;
    const { indexed, events, changes } = await this.effects([...late, ...fresh]);
    const applied = await this.store.transaction(async (writer) => {
      // Applied by another Orthanc meanwhile: this page is done, once.
      if (((await writer.setting(CURSOR)) ?? '0') !== String(since) || (await writer.setting(GAPS)) !== gapsText) return false;
      if (changes.length > 0) await this.onChanges(writer, changes);
      await this.write(writer, indexed);
      if (events.length > 0) await this.onStudies(events);
      await writer.putSetting(CURSOR, String(fresh.length > 0 ? page!.Last : since));
      await writer.putSetting(GAPS, JSON.stringify(gaps));
      return true;
    });
    if (applied) for (const change of late) this.log.info(`applied change ${change.Seq} (${change.ChangeType} ${change.ResourceType} ${change.ID}), committed by Orthanc after later ones`);
    return !page || page.Done || fresh.length === 0;
  }

  /** The changes that have appeared in earlier gaps of the log: one read per run of missing numbers. */
  private async lateChanges(pending: readonly Gap[]): Promise<Change[]> {
    if (pending.length === 0) return [];
    const wanted = new Set(pending.map((gap) => gap.seq));
    const found = await mapLimited(gapRanges(pending), PARALLEL_READS, async ([first, last]) =>
      (await this.orthanc.getJson<Changes>(`/changes?since=${first - 1}&limit=${last - first + 1}`))?.Changes ?? []);
    return found.flat().filter((change) => wanted.has(change.Seq));
  }

  /** What changes do to the index: the studies and patients they name, read live, and the arrivals for the order tracker. */
  private async effects(changes: readonly Change[]): Promise<{ indexed: Indexed; events: StudyEvent[]; changes: StudyChange[] }> {
    const studyIds = new Set<string>();
    const patientIds = new Set<string>();
    const arrivals = new Map<string, boolean>();
    const instancesOrSeries: Change[] = [];
    // What happened to each study, in the order of the log (for the Subscriptions' topic).
    const happened = new Map<string, Set<TopicEvent>>();
    const mark = (id: string, event: TopicEvent) => happened.set(id, (happened.get(id) ?? new Set()).add(event));
    for (const change of changes) {
      const reindexing = REINDEXING.has(change.ChangeType);
      if (change.ResourceType === 'Study') {
        const event = STUDY_EVENTS[change.ChangeType];
        if (event) mark(change.ID, event);
        if (reindexing) studyIds.add(change.ID);
        if (change.ChangeType === 'NewStudy' || change.ChangeType === 'StableStudy') {
          arrivals.set(change.ID, (arrivals.get(change.ID) ?? false) || change.ChangeType === 'StableStudy');
        }
      } else if (change.ResourceType === 'Patient') {
        if (reindexing) patientIds.add(change.ID);
      } else if ((change.ResourceType === 'Series' || change.ResourceType === 'Instance') && reindexing && change.ChangeType !== 'Deleted') {
        instancesOrSeries.push(change);
      }
    }
    // A new series or instance changes its study (a deleted one is gone, and
    // cannot name it: the search's re-check drops what it leaves behind).
    const parents = await mapLimited(instancesOrSeries, PARALLEL_READS, async (change) => {
      const level = change.ResourceType === 'Series' ? 'series' : 'instances';
      return (await this.orthanc.getJson<{ ID: string }>(`/${level}/${encodeURIComponent(change.ID)}/study`))?.ID;
    });
    for (const id of parents) {
      if (!id) continue;
      studyIds.add(id);
      mark(id, 'update');
    }
    const indexed = await this.read([...studyIds], patientIds);
    // A study that only became stable is not read again in full: its summary is what the order tracker needs.
    const summaries = new Map(indexed.studies.map(({ id, study }) => [id, study]));
    const stableOnly = [...arrivals.keys()].filter((id) => !summaries.has(id));
    // Their resource too, for the Subscriptions' filters (it is not indexed again: nothing in it changed).
    const stableResources = new Map<string, Resource | undefined>();
    await mapLimited(stableOnly, PARALLEL_READS, async (id) => {
      const study = await this.reader.index.study(id);
      summaries.set(id, study);
      stableResources.set(id, study ? await this.reader.fullStudy(study) : undefined);
    });
    const events: StudyEvent[] = [];
    for (const [id, stable] of arrivals) {
      const study = summaries.get(id);
      if (study) events.push({ studyId: id, stable, study });
    }
    const resources = new Map([...stableResources, ...indexed.studies.map(({ id, resource }): [string, Resource | undefined] => [id, resource])]);
    return { indexed, events, changes: [...happened].map(([studyId, found]) => studyChange(studyId, found, resources.get(studyId))) };
  }

  /** Live reads of the studies (and of their patients, and of `patientIds`), outside any transaction. */
  private async read(studyIds: readonly string[], patientIds: Set<string> = new Set()): Promise<Indexed> {
    const studies = await mapLimited(studyIds, PARALLEL_READS, async (id) => {
      const study = await this.reader.index.study(id);
      const resource = study ? await this.reader.fullStudy(study) : undefined;
      return { id, study, resource };
    });
    return this.withPatients(studies, patientIds);
  }

  private async withPatients(studies: Indexed['studies'], patientIds: Set<string>): Promise<Indexed> {
    for (const { study } of studies) if (study) patientIds.add(study.ParentPatient);
    const patients = await mapLimited([...patientIds], PARALLEL_READS, async (id) => {
      const patient = await this.reader.index.patient(id);
      return { id, dicom: patient ? await this.reader.dicomPatient(patient) : undefined };
    });
    return { studies, patients };
  }

  private async write(writer: StoreWriter, indexed: Indexed): Promise<void> {
    for (const { id, resource } of indexed.studies) await writer.index('ImagingStudy', id, resource);
    for (const { id, dicom } of indexed.patients) {
      // Merged here, with the stored Patient as this transaction sees it.
      await writer.index('Patient', id, mergePatient((await writer.current('Patient', id))?.resource, dicom));
    }
  }

  /** Indexes every study Orthanc holds, batch after batch, then says the index is complete. */
  private async build(): Promise<void> {
    if (this.building) return;
    this.building = true;
    try {
      // One Orthanc builds; the others see BUILT change (and take over at their next poll if it stops).
      await this.store.exclusive('imaging-index-build', () => this.buildAll(), { wait: false });
    } finally {
      this.building = false;
    }
  }

  private async buildAll(): Promise<void> {
    if ((await this.store.setting(BUILT)) === 'yes') {
      this.built = true;
      return;
    }
    try {
      const statistics = await this.orthanc.getJson<{ CountStudies: number }>('/statistics');
      const total = statistics?.CountStudies ?? 0;
      this.log.info(`building the imaging search index of ${total} studies in the background; searches read Orthanc live until it is done`);
      const started = Date.now();
      let lastLog = started;
      for (let pass = 0; ; ) {
        const done = await this.serialized(() => this.buildBatch());
        if (Date.now() - lastLog > 10000) {
          lastLog = Date.now();
          this.log.info(`imaging search index: ${await this.store.indexedCount('ImagingStudy')} of ${total} studies indexed`);
        }
        if (!done) continue;
        const indexed = await this.store.indexedCount('ImagingStudy');
        const now = (await this.orthanc.getJson<{ CountStudies: number }>('/statistics'))?.CountStudies ?? 0;
        // Paging by offset can skip a study when another is deleted meanwhile: go over them once more.
        if (indexed < now && pass++ === 0) {
          await this.store.transaction((writer) => writer.putSetting(BUILD_OFFSET, '0'));
          continue;
        }
        await this.store.transaction((writer) => writer.putSetting(BUILT, 'yes'));
        this.built = true;
        this.log.info(`imaging search index complete: ${indexed} studies in ${((Date.now() - started) / 1000).toFixed(1)} s; searches use it`);
        return;
      }
    } catch (error) {
      this.log.error(`building the imaging search index failed (searches keep reading Orthanc live; it resumes at the next start): ${(error as Error)?.stack ?? String(error)}`);
    }
  }

  /** One batch of the build; true when every study has been visited. */
  private async buildBatch(): Promise<boolean> {
    const offset = Number((await this.store.setting(BUILD_OFFSET)) ?? '0');
    const studies = (await this.orthanc.getJson<OrthancStudy[]>(`/studies?expand&since=${offset}&limit=${BUILD_BATCH}`)) ?? [];
    if (studies.length === 0) return true;
    const read = await mapLimited(studies, PARALLEL_READS, async (study) => ({ id: study.ID, study, resource: await this.reader.fullStudy(study) }));
    const indexed = await this.withPatients(read, new Set());
    await this.store.transaction(async (writer) => {
      if (((await writer.setting(BUILD_OFFSET)) ?? '0') !== String(offset)) return;
      await this.write(writer, indexed);
      await writer.putSetting(BUILD_OFFSET, String(offset + studies.length));
    });
    return false;
  }
}


