import { expect } from 'chai';
import { ConfigurationError, readConfig } from '../../src/config';

describe('configuration', () => {
  it('has defaults', () => {
    const config = readConfig({});
    expect(config.requestTimeoutSeconds).to.equal(30);
    expect(config.publicBaseUrl).to.equal(undefined);
    expect(config.dicomWebRoot).to.equal('/dicom-web');
  });

  it('reads the Fhir and DicomWeb sections', () => {
    const config = readConfig({
      Fhir: { Enable: true, RequestTimeout: 5, PublicBaseUrl: 'https://pacs.example.org/fhir/', MaxCount: 200, DefaultCount: 20 },
      DicomWeb: { Root: '/dw/' },
    });
    expect(config.requestTimeoutSeconds).to.equal(5);
    expect(config.publicBaseUrl).to.equal('https://pacs.example.org/fhir');
    expect(config.maxCount).to.equal(200);
    expect(config.dicomWebRoot).to.equal('/dw');
  });

  it('rejects bad values and unknown options', () => {
    for (const fhir of [
      { RequestTimeout: 'x' },
      { RequestTimeout: -1 },
      { PublicBaseUrl: 'not a url' },
      { PublicBaseUrl: 'ftp://x/fhir' },
      { MaxCount: 0 },
      { DefaultCount: 500, MaxCount: 100 },
      { Unknown: true },
    ]) {
      expect(() => readConfig({ Fhir: fhir }), JSON.stringify(fhir)).to.throw(ConfigurationError);
    }
    expect(() => readConfig({ Fhir: [] })).to.throw(ConfigurationError);
  });

  it('DefaultTimezoneOffset: the local zone by default, "none", or a fixed offset (normalized); anything else refused', () => {
    expect(readConfig({}).defaultTimezoneOffset).to.equal('local');
    expect(readConfig({ Fhir: { DefaultTimezoneOffset: 'local' } }).defaultTimezoneOffset).to.equal('local');
    expect(readConfig({ Fhir: { DefaultTimezoneOffset: 'none' } }).defaultTimezoneOffset).to.equal('none');
    expect(readConfig({ Fhir: { DefaultTimezoneOffset: '+0100' } }).defaultTimezoneOffset).to.equal('+01:00');
    expect(readConfig({ Fhir: { DefaultTimezoneOffset: '-05:00' } }).defaultTimezoneOffset).to.equal('-05:00');
    expect(readConfig({ Fhir: { DefaultTimezoneOffset: '-0000' } }).defaultTimezoneOffset).to.equal('+00:00');
    expect(readConfig({ Fhir: { DefaultTimezoneOffset: 'Z' } }).defaultTimezoneOffset).to.equal('Z');
    for (const bad of ['CET', 'Europe/Brussels', 'Local', 'NONE', '', '+15:00', '+14:30', '+01:60', '0100', 1, null, true]) {
      expect(() => readConfig({ Fhir: { DefaultTimezoneOffset: bad } }), JSON.stringify(bad)).to.throw(ConfigurationError, /DefaultTimezoneOffset.*"local".*"none"/);
    }
  });

  it('the store: SQLite by default; PostgreSQL from Orthanc\'s own section, or one of its own', () => {
    expect(readConfig({}).store).to.deep.equal({ kind: 'sqlite' });
    const orthancSection = { EnableIndex: true, Host: 'db', Port: 5433, Database: 'pacs', Username: 'orthanc', Password: 's', Lock: false };
    expect(readConfig({ PostgreSQL: orthancSection, Fhir: { Store: 'PostgreSQL' } }).store).to.deep.equal({
      kind: 'postgresql', connection: { host: 'db', port: 5433, database: 'pacs', user: 'orthanc', password: 's' },
      ssl: false, schema: 'fhir', poolSize: 8, source: 'PostgreSQL',
    });
    const own = readConfig({ PostgreSQL: orthancSection, Fhir: { Store: 'PostgreSQL', PostgreSQL: { ConnectionUri: 'postgresql://u@other/fhirdb', Schema: 'fhir_a', PoolSize: 3 } } }).store;
    expect(own).to.deep.equal({ kind: 'postgresql', connection: { connectionString: 'postgresql://u@other/fhirdb' }, ssl: false, schema: 'fhir_a', poolSize: 3, source: 'Fhir.PostgreSQL' });
    // Schema and pool size alone keep Orthanc's connection.
    expect(readConfig({ PostgreSQL: orthancSection, Fhir: { Store: 'PostgreSQL', PostgreSQL: { PoolSize: 2 } } }).store).to.include({ source: 'PostgreSQL', poolSize: 2 });
  });

  it('reads the Authorization section, and refuses it beside Orthanc\'s own authentication', () => {
    const authorization = { Enable: true, Issuer: 'https://auth.example.org', Audience: 'https://pacs.example.org/fhir',
      Jwks: 'https://auth.example.org/certs', TokenEndpoint: 'https://auth.example.org/token', AdminScope: 'orthanc/admin' };
    const config = readConfig({ Fhir: { Authorization: authorization }, AuthenticationEnabled: false, RegisteredUsers: { clerk: 's3cret' } });
    expect(config.authorization).to.include({ issuer: 'https://auth.example.org', adminScope: 'orthanc/admin', clockSkewSeconds: 60 });
    expect(config.authorization!.registeredUsers.get('clerk')).to.equal('s3cret');
    expect(config.wadoRoot).to.equal('/wado');
    expect(readConfig({ Fhir: { Authorization: { ...authorization, Enable: false } } }).authorization).to.equal(undefined);
    const refused = (orthanc: Record<string, unknown>, pattern: RegExp) => expect(() => readConfig(orthanc)).to.throw(ConfigurationError, pattern);
    refused({ Fhir: { Authorization: authorization }, AuthenticationEnabled: true }, /AuthenticationEnabled/);
    refused({ Fhir: { Authorization: authorization }, RemoteAccessAllowed: true }, /AuthenticationEnabled/);
    refused({ Fhir: { Authorization: { ...authorization, AdminScope: undefined } } }, /AdminScope/);
    refused({ Fhir: { Authorization: { ...authorization, Jwks: 'http://auth.example.org/certs' } } }, /https/);
    refused({ Fhir: { Authorization: { ...authorization, Jwks: '/nonexistent/jwks.json' } } }, /no such file/);
    refused({ Fhir: { Authorization: { ...authorization, ClockSkew: -1 } } }, /ClockSkew/);
    refused({ Fhir: { Authorization: { ...authorization, Scopes: [] } } }, /Unknown option/);
    expect(readConfig({ Fhir: { Authorization: { ...authorization, Jwks: 'http://127.0.0.1:9/jwks.json' } } }).authorization!.jwks).to.equal('http://127.0.0.1:9/jwks.json');
  });

  it('names the wrong store setting', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ Fhir: { Store: 'Oracle' } }, /Fhir\.Store/],
      [{ Fhir: { Store: 'PostgreSQL' } }, /neither Orthanc's "PostgreSQL" section/],
      [{ Fhir: { Store: 'PostgreSQL' }, PostgreSQL: { Host: 'db' } }, /"PostgreSQL\.Database" is needed/],
      [{ Fhir: { Store: 'PostgreSQL' }, PostgreSQL: { Database: 'x', Port: 'five' } }, /"PostgreSQL\.Port"/],
      [{ Fhir: { Store: 'PostgreSQL', PostgreSQL: { Database: 'x', Password: 3 } } }, /"Fhir\.PostgreSQL\.Password" must be a string/],
      [{ Fhir: { Store: 'PostgreSQL', PostgreSQL: { ConnectionUri: 'mysql://x' } } }, /ConnectionUri/],
      [{ Fhir: { Store: 'PostgreSQL', PostgreSQL: { Database: 'x', Schema: 'public' } } }, /Schema/],
      [{ Fhir: { Store: 'PostgreSQL', PostgreSQL: { Database: 'x', PoolSize: 0 } } }, /Fhir\.PostgreSQL\.PoolSize/],
      [{ Fhir: { Store: 'PostgreSQL', PostgreSQL: { Database: 'x', Lock: false } } }, /Unknown option "Fhir\.PostgreSQL\.Lock"/],
      [{ Fhir: { PostgreSQL: { Database: 'x' } } }, /"Fhir\.Store" is not "PostgreSQL"/],
    ];
    for (const [configuration, message] of cases) {
      expect(() => readConfig(configuration), JSON.stringify(configuration)).to.throw(ConfigurationError, message);
    }
  });
});

describe('configuration: "Fhir.Subscriptions"', () => {
  const subscriptions = (section: unknown) => readConfig({ Fhir: { Subscriptions: section } }).subscriptions;

  it('allows no endpoint by default, and retries for 300 s at most, keeping events 168 h', () => {
    const defaults = { allowedEndpoints: [], maxRetrySeconds: 300, eventRetentionHours: 168 };
    expect(readConfig({}).subscriptions).to.deep.equal(defaults);
    expect(subscriptions({})).to.deep.equal(defaults);
    expect(subscriptions({ AllowedEndpoints: [] })).to.deep.equal(defaults);
  });

  it('reads the endpoint prefixes as parsed URLs, and the retry and retention settings', () => {
    expect(subscriptions({
      AllowedEndpoints: ['https://ris.example.org/hooks', 'HTTPS://RIS.Example.org:443/other/', 'http://[0:0:0:0:0:0:0:1]:8080', 'http://127.0.0.1:9000/a/../notify'],
      MaxRetryInterval: 60,
      EventRetention: 24,
    })).to.deep.equal({
      allowedEndpoints: ['https://ris.example.org/hooks', 'https://ris.example.org/other/', 'http://[::1]:8080/', 'http://127.0.0.1:9000/notify'],
      maxRetrySeconds: 60,
      eventRetentionHours: 24,
    });
  });

  it('takes the bounds of MaxRetryInterval (1 s to a day) and EventRetention (1 h to 366 days)', () => {
    expect(subscriptions({ MaxRetryInterval: 1, EventRetention: 1 })).to.include({ maxRetrySeconds: 1, eventRetentionHours: 1 });
    expect(subscriptions({ MaxRetryInterval: 86400, EventRetention: 8784 })).to.include({ maxRetrySeconds: 86400, eventRetentionHours: 8784 });
    for (const section of [
      { MaxRetryInterval: 0 }, { MaxRetryInterval: 86401 }, { MaxRetryInterval: 1.5 }, { MaxRetryInterval: '300' }, { MaxRetryInterval: -5 },
      { EventRetention: 0 }, { EventRetention: 8785 }, { EventRetention: 2.5 }, { EventRetention: null },
    ]) {
      const [key] = Object.keys(section);
      expect(() => subscriptions(section), JSON.stringify(section)).to.throw(ConfigurationError, new RegExp(`"Fhir\\.Subscriptions\\.${key}"`));
    }
  });

  it('refuses prefixes that are not a list of plain http(s) URLs', () => {
    for (const allowed of ['https://ris.example.org/hooks', { url: 'https://ris.example.org/' }, 42, true]) {
      expect(() => subscriptions({ AllowedEndpoints: allowed }), JSON.stringify(allowed)).to.throw(ConfigurationError, /AllowedEndpoints" must be a list/);
    }
    for (const prefix of ['ftp://ris.example.org/', 'file:///tmp/hooks', 'ws://ris.example.org/', 'not a url', '/hooks', '', 42, null]) {
      expect(() => subscriptions({ AllowedEndpoints: ['https://ok.example.org/', prefix] }), JSON.stringify(prefix)).to.throw(ConfigurationError, /http or https URL/);
    }
    for (const prefix of ['https://user@ris.example.org/hooks', 'https://user:pw@ris.example.org/hooks', 'https://:pw@ris.example.org/',
      'https://ris.example.org/hooks?token=1', 'https://ris.example.org/hooks#part']) {
      expect(() => subscriptions({ AllowedEndpoints: [prefix] }), prefix).to.throw(ConfigurationError, /no user info, query or fragment/);
    }
  });

  it('refuses unknown options and a section that is not an object', () => {
    for (const section of [{ AllowedEndpoint: [] }, { AllowedEndpoints: [], Enable: true }, { maxRetryInterval: 10 }]) {
      expect(() => subscriptions(section), JSON.stringify(section)).to.throw(ConfigurationError, /Unknown option "Fhir\.Subscriptions\./);
    }
    for (const section of [[], 'https://ris.example.org/', 1, null]) {
      expect(() => subscriptions(section), JSON.stringify(section)).to.throw(ConfigurationError, /"Fhir\.Subscriptions" must be an object/);
    }
  });
});
