// Text from data as XHTML: the pages of src/http and the narratives of
// src/resources escape with the same function, so that no value from DICOM
// or from a client can become markup.

/** `text` with the five characters that can open markup or end an attribute replaced by character references. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
