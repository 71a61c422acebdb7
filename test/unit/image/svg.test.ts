import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageRejectedError } from '#engine/errors.ts';
import { intakeImage } from '#engine/image/intake.ts';
import { svgExternalReference } from '#engine/image/svg-policy.ts';
import { imageFixture, SVG_EXTERNAL_URL } from '#test/fixtures/images.ts';

const LIMITS = { maxInputBytes: 1024 * 1024, maxInputPixels: 100_000_000, workingSize: 256 };

const svgDoc = (body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="40">${body}</svg>`;

describe('SVG: rasterised only when self-contained', () => {
  let server: Server;
  let requests = 0;
  let origin = '';

  beforeAll(async () => {
    server = createServer((_request, response) => {
      requests++;
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('renders a self-contained SVG (internal <use> and gradient) at the working size', async () => {
    const { facts, image } = await intakeImage(await imageFixture('svgSelfContained'), LIMITS);

    expect(facts).toMatchObject({ format: 'svg', width: 40, height: 40, pages: 1 });
    // Vector art is rendered at a higher density rather than upscaled from 40 px.
    expect([image.width, image.height]).toEqual([256, 256]);
    expect(Array.from(image.data.subarray(0, 3))).toEqual([255, 0, 0]);
  });

  it('refuses an SVG referencing a URL, saying which reference and what to do', async () => {
    const error = await intakeImage(await imageFixture('svgExternalHref'), LIMITS).catch((caught) => caught);

    expect(error).toBeInstanceOf(ImageRejectedError);
    expect(error.code).toBe('UNSUPPORTED_FORMAT');
    expect(error.message).toBe(
      `Unsupported SVG: it references "${SVG_EXTERNAL_URL}" (href). Only self-contained SVGs are rendered (references must be #fragments or data: URIs); embed the resources or export the drawing as PNG.`,
    );
  });

  it('never contacts a server named in an SVG, even in the renderer itself (second layer)', async () => {
    const bytes = Buffer.from(
      svgDoc(
        `<rect width="40" height="40" fill="#0000ff"/><image href="${origin}/a.png" width="40" height="40"/>` +
          `<image xlink:href="${origin}/b.png" width="40" height="40"/>`,
      ),
    );

    await expect(intakeImage(bytes, LIMITS)).rejects.toThrow(/Unsupported SVG/);
    // librsvg given a buffer (no base URL) must not fetch either.
    const { data } = await sharp(bytes).flatten().raw().toBuffer({ resolveWithObject: true });

    expect(requests).toBe(0);
    expect(Array.from(data.subarray(0, 3))).toEqual([0, 0, 255]);
  });

  it('never reads a local file named in an SVG, even in the renderer itself (second layer)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'svg-'));
    const redPng = join(dir, 'red.png');
    await writeFile(redPng, await imageFixture('solidRed'));
    const bytes = Buffer.from(
      svgDoc(
        `<rect width="40" height="40" fill="#0000ff"/><image href="file://${redPng}" width="40" height="40"/>`,
      ),
    );

    const rejected = await intakeImage(bytes, LIMITS).catch((caught) => caught);
    const { data } = await sharp(bytes).flatten().raw().toBuffer({ resolveWithObject: true });
    await rm(dir, { recursive: true });

    expect(rejected.code).toBe('UNSUPPORTED_FORMAT');
    expect(Array.from(data.subarray(0, 3))).toEqual([0, 0, 255]);
  });
});

describe('svgExternalReference', () => {
  it.each([
    ['<image href="#local"/><rect fill="url(#g)"/>'],
    [`<image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>`],
    [`<rect style="fill: url('#g')"/>`],
  ])('accepts %s', (body) => {
    expect(svgExternalReference(svgDoc(body))).toBeUndefined();
  });

  it.each([
    ['<image href="https://example.com/a.png"/>', 'it references "https://example.com/a.png" (href)'],
    [`<image xlink:href='file:///etc/passwd'/>`, 'it references "file:///etc/passwd" (href)'],
    ['<use href="other.svg#shape"/>', 'it references "other.svg#shape" (href)'],
    [
      '<image href="&#104;ttps://example.com/a.png"/>',
      'it references "&#104;ttps://example.com/a.png" (href)',
    ],
    [
      '<rect style="fill:url(http://example.com/p.svg#x)"/>',
      'it references "http://example.com/p.svg#x" (url())',
    ],
    ['<style>@import "https://example.com/x.css";</style>', 'its CSS uses @import'],
    ['<style>rect { fill: \\75rl(http://x) }</style>', 'its CSS contains escape sequences'],
    ['<script src="https://example.com/x.js"/>', 'it references "https://example.com/x.js" (src)'],
  ])('refuses %s', (body, reason) => {
    expect(svgExternalReference(svgDoc(body))).toBe(reason);
  });

  it('refuses XML entity declarations', () => {
    const doc = `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>${svgDoc('<text>&x;</text>')}`;

    expect(svgExternalReference(doc)).toBe('it declares XML entities');
  });
});
