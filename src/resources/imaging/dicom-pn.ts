// DICOM PN (person name, PS3.5 §6.2.1) to FHIR HumanName.
//
// A PN value has up to three component groups separated by '=':
// alphabetic, ideographic and phonetic. Each group has up to five components
// separated by '^': family ^ given ^ middle ^ prefix ^ suffix. Orthanc has
// already decoded the value to UTF-8 using SpecificCharacterSet.
//
// Choices (FHIR has no element for "which writing system"):
// - Each non-empty group becomes its own HumanName, in the order alphabetic,
//   ideographic, phonetic, so a Japanese name keeps its kanji and kana forms
//   as additional names rather than being dropped. HumanName.use is left
//   empty on all of them: none of the use codes (usual, nickname...) means
//   "the same name in another script".
// - By default no extension is added. A caller that needs to tell the groups
//   apart can ask for the core ISO 21090 extension
//   (iso21090-EN-representation: ABC / IDE / SYL) on each name.
// - The middle name goes into `given` after the first given name; components
//   are not split on spaces, since "Mary Ann" may be one given name.
// - Components past the fifth (not allowed by DICOM, seen in the wild) are
//   kept as extra suffixes rather than silently lost.
// - `text` is always filled in: for the alphabetic group in Western display
//   order (prefix given middle family suffix), for the ideographic and
//   phonetic groups in component order (family given ...), which is the
//   customary order for the CJK names those groups are used for.
import type { Extension, HumanName } from './fhir-r5';

export interface PersonNameComponents {
  family?: string;
  given?: string;
  middle?: string;
  prefix?: string;
  /** The fifth component, plus any (non-conformant) extra ones. */
  suffix?: string[];
}

export interface PersonName {
  alphabetic?: PersonNameComponents;
  ideographic?: PersonNameComponents;
  phonetic?: PersonNameComponents;
}

export type PersonNameGroup = keyof PersonName;

const GROUPS: readonly PersonNameGroup[] = ['alphabetic', 'ideographic', 'phonetic'];

/** ISO 21090 EN.representation codes, for the optional extension. */
const REPRESENTATION: Readonly<Record<PersonNameGroup, string>> = {
  alphabetic: 'ABC',
  ideographic: 'IDE',
  phonetic: 'SYL',
};

export const NAME_REPRESENTATION_EXTENSION_URL = 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation';

function clean(part: string | undefined): string | undefined {
  const trimmed = part?.trim();
  return trimmed ? trimmed : undefined;
}

function parseGroup(group: string): PersonNameComponents | undefined {
  const parts = group.split('^');
  const components: PersonNameComponents = {};
  const family = clean(parts[0]);
  const given = clean(parts[1]);
  const middle = clean(parts[2]);
  const prefix = clean(parts[3]);
  const suffix = parts
    .slice(4)
    .map(clean)
    .filter((part): part is string => part !== undefined);
  if (family) components.family = family;
  if (given) components.given = given;
  if (middle) components.middle = middle;
  if (prefix) components.prefix = prefix;
  if (suffix.length > 0) components.suffix = suffix;
  return Object.keys(components).length > 0 ? components : undefined;
}

/**
 * Parses one PN value. A multi-valued attribute ('\'-separated) is cut at the
 * first value: PatientName and ReferringPhysicianName have VM 1.
 */
export function parsePersonName(value: string | undefined): PersonName {
  const name: PersonName = {};
  if (value === undefined) return name;
  const first = value.split('\\')[0] ?? '';
  const groups = first.split('=');
  GROUPS.forEach((key, index) => {
    const components = parseGroup(groups[index] ?? '');
    if (components) name[key] = components;
  });
  return name;
}

/** The display form of one group (see the header for the order). */
export function formatPersonNameComponents(components: PersonNameComponents, group: PersonNameGroup): string {
  const ordered =
    group === 'alphabetic'
      ? [components.prefix, components.given, components.middle, components.family, ...(components.suffix ?? [])]
      : [components.family, components.given, components.middle, components.prefix, ...(components.suffix ?? [])];
  return ordered.filter((part): part is string => part !== undefined).join(' ');
}

/**
 * A one-line display of a PN value: the alphabetic group, else the first
 * other group present; undefined when the name is empty.
 */
export function formatPersonName(value: string | undefined): string | undefined {
  const name = parsePersonName(value);
  for (const group of GROUPS) {
    const components = name[group];
    if (components) return formatPersonNameComponents(components, group);
  }
  return undefined;
}

export interface HumanNameOptions {
  /** Tag each name with the ISO 21090 representation extension (ABC/IDE/SYL). Default false. */
  representationExtension?: boolean;
}

function toHumanName(components: PersonNameComponents, group: PersonNameGroup, options: HumanNameOptions): HumanName {
  const name: HumanName = {};
  if (options.representationExtension) {
    const extension: Extension = { url: NAME_REPRESENTATION_EXTENSION_URL, valueCode: REPRESENTATION[group] };
    name.extension = [extension];
  }
  name.text = formatPersonNameComponents(components, group);
  if (components.family) name.family = components.family;
  const given = [components.given, components.middle].filter((part): part is string => part !== undefined);
  if (given.length > 0) name.given = given;
  if (components.prefix) name.prefix = [components.prefix];
  if (components.suffix) name.suffix = [...components.suffix];
  return name;
}

/** One HumanName per non-empty component group; empty array for an empty PN. */
export function personNameToHumanNames(value: string | undefined, options: HumanNameOptions = {}): HumanName[] {
  const parsed = parsePersonName(value);
  const names: HumanName[] = [];
  for (const group of GROUPS) {
    const components = parsed[group];
    if (components) names.push(toHumanName(components, group, options));
  }
  return names;
}
