// The public base URL of /fhir: configured, else rebuilt from the request
// (Host, or X-Forwarded-Host / X-Forwarded-Proto behind a reverse proxy).

export function publicBaseUrl(configured: string | undefined, headers: Record<string, string>): string {
  if (configured !== undefined) {
    return configured;
  }
  const forwardedHost = first(headers['x-forwarded-host']);
  const host = forwardedHost ?? headers['host'] ?? 'localhost';
  const proto = first(headers['x-forwarded-proto']) ?? 'http';
  const safeProto = proto === 'https' ? 'https' : 'http';
  const safeHost = /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? host : 'localhost';
  return `${safeProto}://${safeHost}/fhir`;
}

function first(value: string | undefined): string | undefined {
  const head = value?.split(',')[0]?.trim();
  return head ? head : undefined;
}
