// Reading values out of Orthanc's simplified tag JSON. DICOM pads values with
// spaces and Orthanc keeps present-but-empty attributes as "", so every read
// trims and treats "" as absent: FHIR forbids empty strings.
import type { OrthancTagItem, OrthancTags } from './orthanc-types';

/** The trimmed value of a non-sequence tag, or undefined when absent or empty. */
export function tagString(tags: OrthancTags | undefined, keyword: string): string | undefined {
  const value = tags?.[keyword];
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The values of a multi-valued tag ('\'-separated), trimmed, empties dropped. */
export function tagValues(tags: OrthancTags | undefined, keyword: string): string[] {
  const value = tagString(tags, keyword);
  if (value === undefined) return [];
  return value
    .split('\\')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** The items of a sequence tag; empty when absent or not a sequence. */
export function tagItems(tags: OrthancTags | undefined, keyword: string): readonly OrthancTagItem[] {
  const value = tags?.[keyword];
  return Array.isArray(value) ? (value as readonly OrthancTagItem[]) : [];
}

/**
 * The first non-empty value of a tag among several sources, in order. The
 * mappers look in MainDicomTags first and then in tags read from a DICOM
 * file, so a tag that a newer Orthanc indexes (ExtraMainDicomTags) is picked
 * up without the caller reading the file.
 */
export function firstTagString(keyword: string, ...sources: readonly (OrthancTags | undefined)[]): string | undefined {
  for (const source of sources) {
    const value = tagString(source, keyword);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** Like firstTagString, for sequences: the first source where the sequence has items. */
export function firstTagItems(
  keyword: string,
  ...sources: readonly (OrthancTags | undefined)[]
): readonly OrthancTagItem[] {
  for (const source of sources) {
    const items = tagItems(source, keyword);
    if (items.length > 0) return items;
  }
  return [];
}

/**
 * A DICOM IS (integer string) as a FHIR unsignedInt; undefined when empty,
 * negative or not an integer, since unsignedInt cannot carry those.
 */
export function parseUnsignedInt(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\+?(\d{1,12})$/.exec(value.trim());
  if (!match) return undefined;
  const parsed = Number(match[1]);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}
