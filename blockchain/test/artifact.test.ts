import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ARTIFACT_JSON, renderArtifact } from '../scripts/export-artifact';

describe('committed client artifact', () => {
  it('matches the compiled contract (run scripts/export-artifact.ts after changing it)', async () => {
    // Compare the data, not the formatting prettier may have applied to the committed file.
    const committed: unknown = JSON.parse(readFileSync(ARTIFACT_JSON, 'utf8'));
    expect(committed).to.deep.equal(JSON.parse(await renderArtifact()));
  });
});
