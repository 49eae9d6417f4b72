// [base]/$worklist: the scheduled procedure steps of one day, as the
// modalities get them over C-FIND (WorklistService.day: the same candidates
// and items), as a searchset of the Tasks with their orders and patients
// included. The worklist page is its HTML form.
import { badRequest, outcome } from '../fhir/outcome';
import type { Bundle, BundleEntry, Resource } from '../fhir/types';
import type { SystemOperation } from '../resources/provider';
import { dicomDateTime } from './worklist-item';
import type { WorklistService } from './worklist-service';

/** An AE title (DICOM AE: 16 characters, no backslash nor control character) or a modality code (CS). */
const AE_TITLE = /^[^\\\x00-\x1f]{1,16}$/;
const MODALITY = /^[A-Z0-9_ ]{1,16}$/;

function single(query: ReadonlyArray<[string, string]>, name: string): string | undefined {
  const values = query.filter(([key]) => key === name).map(([, value]) => value.trim());
  if (values.length > 1) throw badRequest(`$worklist takes one ${name}`, [name]);
  return values[0] === '' ? undefined : values[0];
}

/** The day a `date` parameter names (YYYY-MM-DD), else `today`, as YYYYMMDD. */
export function worklistDate(value: string | undefined, today: string): string {
  const text = value ?? today;
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const valid = match && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
  if (!valid) throw badRequest(`$worklist date must be a day (YYYY-MM-DD), not '${text}'`, ['date']);
  return text.replace(/-/g, '');
}

/** Today (YYYY-MM-DD) where the worklist's times are expressed: the same conversion as its scheduled times. */
export function worklistToday(timezoneOffset: string | undefined, now = new Date()): string {
  const { date } = dicomDateTime(now.toISOString(), timezoneOffset);
  return `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}`;
}

/** `maxCount`: the most steps answered (the server's _count cap); past it the answer says how many were left out. */
export function worklistOperation(worklist: WorklistService, today: () => string, maxCount: number): SystemOperation {
  return {
    name: 'worklist',
    methods: ['GET'],
    documentation: "The modality worklist of a day (date=YYYY-MM-DD, default today; station=AE title; modality=code): the Tasks a modality's "
      + 'C-FIND gets, in scheduled order, with their ServiceRequests and Patients',
    async invoke(context) {
      const known = new Set(['date', 'station', 'modality']);
      const unknown = context.query.find(([name]) => !known.has(name));
      if (unknown) throw badRequest(`$worklist has no parameter '${unknown[0]}'`, [unknown[0]]);
      const date = worklistDate(single(context.query, 'date'), today());
      const station = single(context.query, 'station');
      const modality = single(context.query, 'modality');
      if (station !== undefined && !AE_TITLE.test(station)) throw badRequest(`'${station}' is not an AE title`, ['station']);
      if (modality !== undefined && !MODALITY.test(modality)) throw badRequest(`'${modality}' is not a modality code`, ['modality']);
      const all = await worklist.day(date, station, modality);
      const steps = all.slice(0, maxCount);
      const entry = (resource: Resource, mode: 'match' | 'include'): BundleEntry =>
        ({ fullUrl: `${context.baseUrl}/${resource.resourceType}/${resource.id}`, resource, search: { mode } });
      const included = new Map<string, Resource>();
      for (const step of steps) {
        for (const resource of [step.order, step.patient]) {
          if (resource) included.set(`${resource.resourceType}/${resource.id}`, resource);
        }
      }
      const pairs: Array<[string, string]> = [['date', `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`]];
      if (station) pairs.push(['station', station]);
      if (modality) pairs.push(['modality', modality]);
      const query = new URLSearchParams(pairs);
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'searchset',
        total: all.length,
        link: [{ relation: 'self', url: `${context.baseUrl}/$worklist?${query.toString()}` }],
        entry: [...steps.map((step) => entry(step.task, 'match')), ...[...included.values()].map((resource) => entry(resource, 'include')),
          ...(all.length > steps.length ? [{ resource: outcome('too-costly', `The first ${steps.length} of ${all.length} steps: name a station or a modality`,
            { severity: 'warning' }), search: { mode: 'outcome' as const } }] : [])],
      };
      return { status: 200, resource: bundle };
    },
  };
}
