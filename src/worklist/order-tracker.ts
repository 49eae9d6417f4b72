// Closes the loop from images back to orders. The imaging index follows
// Orthanc's change log (resources/imaging-index.ts) and hands each page's
// arrivals here, inside the page's transaction: a new study moves the Tasks
// of its order (matched by StudyInstanceUID, else AccessionNumber, through
// the index) to in-progress; a stable study completes them, with
// Task.output referencing the ImagingStudy. Tasks change through the same
// validated update as a client's write, conditional on the version read.
import type { Reference, Resource } from '../fhir/types';
import type { StudyEvent } from '../resources/imaging-index';
import { orderOfStudy } from '../resources/order-lookup';
import type { Store } from '../store/store';
import { SCHEDULED_TASK_STATUSES } from './worklist-item';

const IMAGING_STUDY_OUTPUT = { text: 'ImagingStudy' };

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

export interface TaskWrites {
  /** The Tasks based on a ServiceRequest. */
  tasksOf(orderId: string): Promise<Resource[]>;
  /** The client's update path: validated, and only over version `versionId`. */
  update(task: Resource, versionId: string): Promise<void>;
}

export class OrderTracker {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskWrites,
  ) {}

  async studiesArrived(events: readonly StudyEvent[]): Promise<void> {
    for (const { studyId, stable, study } of events) {
      const tags = study.MainDicomTags as { StudyInstanceUID?: string; AccessionNumber?: string };
      const order = await orderOfStudy(this.store, tags.StudyInstanceUID, tags.AccessionNumber,
        (candidate) => candidate.status === 'active' || candidate.status === 'completed');
      if (!order) continue;
      for (const task of await this.tasks.tasksOf(order.id!)) {
        const next = advancedTask(task, studyId, stable);
        if (next) await this.tasks.update(next, String(task.meta?.versionId ?? ''));
      }
    }
  }
}
