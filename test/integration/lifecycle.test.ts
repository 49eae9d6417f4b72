// Start-up and configuration: disabled means Orthanc as without the plugin;
// bad configuration stops Orthanc's start with a clear message.
import { expect } from 'chai';
import { Orthanc } from '../support/orthanc';

async function snapshot(orthanc: Orthanc) {
  const fhir = await fetch(`${orthanc.fhirUrl}/metadata`);
  const system = (await (await fetch(`${orthanc.url}/system`)).json()) as Record<string, unknown>;
  const changes = await (await fetch(`${orthanc.url}/changes`)).json();
  return { fhirStatus: fhir.status, fhirBody: await fhir.text(), apiVersion: system.ApiVersion, changes };
}

describe('lifecycle and configuration', function () {
  this.timeout(60000);

  it('with "Enable": false, Orthanc answers exactly as without the plugin', async () => {
    const disabled = await Orthanc.start({ fhir: { Enable: false } });
    const without = await Orthanc.start({ withPlugin: false });
    try {
      const a = await snapshot(disabled);
      const b = await snapshot(without);
      expect(a.fhirStatus).to.equal(404);
      expect(a).to.deep.equal(b);
      expect(disabled.log()).to.contain('disabled');
      // No Node.js environment was started: no thread of the embedded runtime.
      const threads = (await import('node:fs')).readdirSync(`/proc/${disabled.pid}/task`).length;
      const threadsWithout = (await import('node:fs')).readdirSync(`/proc/${without.pid}/task`).length;
      expect(threads).to.equal(threadsWithout);
    } finally {
      await disabled.dispose();
      await without.dispose();
    }
  });

  it('is disabled when the "Fhir" section is absent', async () => {
    const orthanc = await Orthanc.start({});
    try {
      expect((await fetch(`${orthanc.fhirUrl}/metadata`)).status).to.equal(404);
    } finally {
      await orthanc.dispose();
    }
  });

  for (const [label, fhir, message] of [
    ['a bad type read by the shim', { Enable: true, RequestTimeout: 'soon' }, 'Fhir.RequestTimeout'],
    ['an unknown option', { Enable: true, Colour: 'blue' }, 'Fhir.Colour'],
    ['a bad public base URL', { Enable: true, PublicBaseUrl: 'nope' }, 'Fhir.PublicBaseUrl'],
    ['a missing bundle', { Enable: true, Bundle: '/nonexistent/orthanc-fhir.js' }, 'orthanc-fhir.js'],
    ['the PostgreSQL store and no connection', { Enable: true, Store: 'PostgreSQL' }, 'Fhir.Store'],
    ['a PostgreSQL port that is no number', { Enable: true, Store: 'PostgreSQL', PostgreSQL: { Database: 'x', Port: 'x' } }, 'Fhir.PostgreSQL.Port'],
  ] as const) {
    it(`refuses to start with ${label}, saying why`, async () => {
      let error: Error | undefined;
      try {
        const orthanc = await Orthanc.start({ fhir });
        await orthanc.dispose();
      } catch (caught) {
        error = caught as Error;
      }
      expect(error, 'Orthanc started').to.not.equal(undefined);
      expect(error!.message).to.contain('Orthanc exited').and.contain(message);
    });
  }
});
