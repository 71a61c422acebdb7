import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { FETCH_COMMAND, ModelStatus } from '../../../functions/local/model-status.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-status-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the models banner when the models are missing', () => {
  it('names the fetch command and, for offline, the tiny test models and what they can do', async () => {
    const empty = join(dir, 'models');
    await mkdir(empty);
    await cp(join(fixtureModelsDir(), 'manifest.json'), join(empty, 'manifest.json'));

    const view = await new ModelStatus(empty).view();

    expect(view.state).toBe('missing');
    expect(view.command).toBe(FETCH_COMMAND);
    expect(view.message).toContain('images get colours, image facts and text but no caption');
    expect(view.message).toContain('Offline, start with another model set');
    expect(view.message).toContain('npm run fixtures -- --out /tmp/tiny-models');
    expect(view.message).toContain('npm start -- --models /tmp/tiny-models');
    expect(view.message).toContain('know only coloured squares');
  });
});
