// npm run bench: the spine's cost, measured against native Orthanc in the
// same run. Prints requests/s and latency of /fhir/metadata beside Orthanc's
// own GET /system, idle RSS with and without the plugin, and the plugin's
// start-up time, with their ratios.
import { Orthanc } from '../test/support/orthanc';
import { describe as line, load } from './load';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function timestamp(logLine: string | undefined): number {
  // Orthanc's log lines start like "W1128 05:31:27.200841 ..."
  const match = /^[IWE]\d{4} (\d\d):(\d\d):(\d\d\.\d+)/.exec(logLine ?? '');
  if (!match) return NaN;
  return (Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3])) * 1000;
}

function startupMs(log: string): number {
  const lines = log.split('\n');
  const from = lines.find((l) => l.includes("Registering plugin 'orthanc-fhir'"));
  const to = lines.find((l) => l.includes('FHIR: serving FHIR R5'));
  return timestamp(to) - timestamp(from);
}

async function main(): Promise<void> {
  const withPlugin = await Orthanc.start({ fhir: { Enable: true }, verbose: false });
  const without = await Orthanc.start({ withPlugin: false, verbose: false });
  try {
    await sleep(3000);
    const rssWith = withPlugin.rss();
    const rssWithout = without.rss();

    // Warm up both routes, then alternate rounds to even out drift.
    await load(withPlugin.httpPort, () => ({ path: '/system' }), { clients: CLIENTS, seconds: 1 });
    await load(withPlugin.httpPort, () => ({ path: '/fhir/metadata' }), { clients: CLIENTS, seconds: 1 });
    const native = await load(withPlugin.httpPort, () => ({ path: '/system' }), { clients: CLIENTS, seconds: SECONDS });
    const fhir = await load(withPlugin.httpPort, () => ({ path: '/fhir/metadata' }), { clients: CLIENTS, seconds: SECONDS });

    const startup = startupMs(withPlugin.log());
    console.log(`orthanc-fhir spine benchmark (${CLIENTS} keep-alive clients, ${SECONDS} s per route, same Orthanc)`);
    console.log(line('native GET /system', native));
    console.log(line('GET /fhir/metadata', fhir));
    console.log(`throughput ratio fhir/native:  ${(fhir.perSecond / native.perSecond).toFixed(2)}x`);
    console.log(`p50 latency ratio fhir/native: ${(fhir.p50 / native.p50).toFixed(2)}x   p99: ${(fhir.p99 / native.p99).toFixed(2)}x`);
    console.log(`idle RSS: ${(rssWith / 2 ** 20).toFixed(1)} MiB with the plugin, ${(rssWithout / 2 ** 20).toFixed(1)} MiB without: +${((rssWith - rssWithout) / 2 ** 20).toFixed(1)} MiB (${(rssWith / rssWithout).toFixed(2)}x)`);
    console.log(`plugin start-up (Initialize until /fhir is served): ${startup.toFixed(0)} ms`);
    if (native.errors + fhir.errors > 0) process.exitCode = 1;
  } finally {
    await withPlugin.dispose();
    await without.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
