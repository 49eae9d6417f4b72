// Closes the loop from images back to orders. Orthanc's change events only
// wake it up: it then reads Orthanc's change log (/changes) from where it
// stopped last, so changes that happened while the plugin was down or busy
// are caught up, and replaying one is harmless. A new study moves the Tasks
// of its order (matched by StudyInstanceUID, else AccessionNumber) to
// in-progress; a stable study completes them, with Task.output referencing
// the ImagingStudy.
import type { Reference, Resource } from '../fhir/types';
import type { OrthancClient } from '../orthanc/client';
import type { Store } from '../store/store';
import { orderOfStudy } from '../resources/orders';
import { SCHEDULED_TASK_STATUSES } from './worklist-item';

const PROGRESS_KEY = 'orthanc-changes-seq';
const IMAGING_STUDY_OUTPUT = { text: 'ImagingStudy' };

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

interface StudyTags {
  MainDicomTags: { StudyInstanceUID?: string; AccessionNumber?: string };
}

/** The Task after images of `studyId` arrived (stable or not); undefined when nothing changes. */
export function advancedTask(task: Resource, studyId: string, stable: boolean): Resource | undefined {
  const status = task.status as string;
  if (!SCHEDULED_TASK_STATUSES.includes(status)) return undefined;
  if (!stable) return status === 'in-progress' ? undefined : { ...task, status: 'in-progress' };
  const reference = `ImagingStudy/${studyId}`;
  const outputs = (task.output ?? []) as Array<{ valueReference?: Reference }>;
  const output = outputs.some((o) => o.valueReference?.reference === reference)
    ? outputs
    : [...outputs, { type: IMAGING_STUDY_OUTPUT, valueReference: { reference } }];
  return { ...task, status: 'completed', output };
}

export class OrderTracker {
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly orthanc: OrthancClient,
    private readonly store: Store,
    private readonly log: (message: string) => void,
  ) {}

  /** Wakes the tracker; calls while it runs make it run once more. */
  wake(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.followChanges();
      } while (this.again);
    })()
      .catch((error) => this.log(`following Orthanc's changes failed: ${(error as Error)?.stack ?? String(error)}`))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async followChanges(): Promise<void> {
    let since = Number((await this.store.setting(PROGRESS_KEY)) ?? '0');
    for (;;) {
      const page = await this.orthanc.getJson<Changes>(`/changes?since=${since}&limit=500`);
      if (!page) return;
      for (const change of page.Changes) {
        if (change.ResourceType === 'Study' && (change.ChangeType === 'NewStudy' || change.ChangeType === 'StableStudy')) {
          await this.studyArrived(change.ID, change.ChangeType === 'StableStudy');
        }
      }
      since = page.Last;
      await this.store.transaction((writer) => writer.putSetting(PROGRESS_KEY, String(since)));
      if (page.Done || page.Changes.length === 0) return;
    }
  }

  private async studyArrived(studyId: string, stable: boolean): Promise<void> {
    const study = await this.orthanc.getJson<StudyTags>(`/studies/${encodeURIComponent(studyId)}`);
    if (!study) return; // deleted since
    const order = orderOfStudy(
      (await this.store.list('ServiceRequest')).filter((r) => r.status === 'active' || r.status === 'completed'),
      study.MainDicomTags.StudyInstanceUID,
      study.MainDicomTags.AccessionNumber,
    );
    if (!order) return;
    const tasks = (await this.store.list('Task')).filter((task) =>
      ((task.basedOn ?? []) as Reference[]).some((r) => r.reference === `ServiceRequest/${order.id}`));
    await this.store.transaction((writer) => {
      for (const task of tasks) {
        const current = writer.current('Task', task.id!)?.resource;
        const next = current && advancedTask(current, studyId, stable);
        if (next) writer.put('Task', task.id!, next);
      }
    });
  }
}
