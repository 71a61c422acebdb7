import { describe, expect, it } from 'vitest';
import { parseReferences } from '#engine/eval/references.ts';

describe('references.jsonl', () => {
  it('keeps good lines and reports each bad one with its line number', () => {
    const content = [
      '{"file":"red.png","captions":["a red square"],"text":"","categories":["flat"],"answers":{"colour":"red"}}',
      '',
      '{"file":"green.png","captions":"a green square"}',
      'not json at all',
      '{"file":"blue.png","caption":["a blue square"]}',
      '{"file":"../secret.png","captions":["x"]}',
      '{"file":"red.png","captions":["again"]}',
      '{"file":"gray.png"}',
      '{"file":"..dots.png"}',
    ].join('\n');

    const { lines, problems } = parseReferences(content);

    expect(lines.map((l) => [l.line, l.file])).toEqual([
      [1, 'red.png'],
      [8, 'gray.png'],
      [9, '..dots.png'],
    ]);
    expect(lines[0]).toMatchObject({ text: '', categories: ['flat'], answers: { colour: 'red' } });
    expect(problems.map((p) => p.line)).toEqual([3, 4, 5, 6, 7]);
    expect(problems[0]?.message).toContain('captions');
    expect(problems[1]?.message).toMatch(/^not JSON/);
    expect(problems[2]?.message).toContain('"caption"');
    expect(problems[3]?.message).toContain('inside the folder');
    expect(problems[4]?.message).toBe('file red.png is already listed on line 1');
  });

  it('refuses empty captions and non-scalar answers', () => {
    const { problems } = parseReferences(
      '{"file":"a.png","captions":[" "]}\n{"file":"b.png","answers":{"count":[1]}}\r\n',
    );

    expect(problems.map((p) => p.line)).toEqual([1, 2]);
    expect(problems[0]?.message).toContain('captions.0');
    expect(problems[1]?.message).toContain('answers.count');
  });

  it('says a misspelt field in words, with the field meant, and keeps the image the line names', () => {
    const { problems } = parseReferences(
      '{"file":"blue.png","caption":["a blue square"]}\n{"captions":["x"]}',
    );

    expect(problems[0]).toMatchObject({ line: 1, file: 'blue.png' });
    expect(problems[0]?.message).toMatch(/^there is no field "caption"; did you mean "captions"\?/);
    expect(problems[0]?.message).not.toMatch(/Unrecognized|^line:/);
    expect(problems[1]?.message).toMatch(/^"file" is missing/);
  });
});
