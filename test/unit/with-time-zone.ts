// Runs a describe block's tests in another local zone: Node applies a new
// process.env.TZ to the next Date and Intl calls, and the zone is restored
// after the block so that the other tests keep the machine's.
export function withTimeZone(zone: string): void {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TZ;
    process.env.TZ = zone;
  });
  after(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
}
