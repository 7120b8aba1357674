import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ARTIFACT_TS, renderArtifactModule } from '../scripts/export-artifact';

describe('committed client artifact', () => {
  it('matches the compiled contract (run scripts/export-artifact.ts after changing it)', async () => {
    const committed = readFileSync(ARTIFACT_TS, 'utf8');
    const fresh = await renderArtifactModule();
    // Compare the data, not the formatting prettier may have applied to the committed file.
    const data = (s: string): string => s.replace(/[\s"']+/g, '').replace(/,(?=[\]}])/g, '');
    expect(data(committed)).to.equal(data(fresh));
  });
});
