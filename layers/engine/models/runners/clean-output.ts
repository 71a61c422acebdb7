/**
 * Output cleaning shared by every runner: whatever the model and decoder leave in, the record gets
 * plain text — no special or chat tokens, no task tokens, no prompt echo, single spaces, trimmed.
 */
const SPECIAL_TOKENS = [
  '<s>',
  '</s>',
  '<pad>',
  '<unk>',
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<end_of_utterance>',
  '<image>',
  '<fake_token_around_image>',
  '<global-img>',
];
/** Florence-2 task tokens (<CAPTION>, <OCR>…), location bins (<loc_123>) and SmolVLM tile markers. */
const PATTERN_TOKENS = /<[A-Z][A-Z_]*>|<loc_\d+>|<row_\d+_col_\d+>/g;
/** A chat transcript echoed back: keep only what follows the last assistant turn. */
const ASSISTANT_TURN = /(?:^|\s)Assistant:/g;

export interface CleanOptions {
  /** The prompt the model was given: removed when the output starts with it. */
  readonly prompt?: string;
}

const collapse = (text: string) => text.replace(/\s+/g, ' ').trim();

export function cleanModelOutput(raw: string, options: CleanOptions = {}): string {
  let text = raw;
  for (const token of SPECIAL_TOKENS) text = text.replaceAll(token, ' ');
  text = text.replace(PATTERN_TOKENS, ' ');
  const turns = [...text.matchAll(ASSISTANT_TURN)];
  const lastTurn = turns.at(-1);
  if (lastTurn) text = text.slice(lastTurn.index + lastTurn[0].length);
  text = collapse(text);
  const prompt = options.prompt ? collapse(options.prompt) : '';
  if (prompt && text.toLowerCase().startsWith(prompt.toLowerCase())) text = text.slice(prompt.length);
  return collapse(text.replace(/^User:\s*/, ''));
}
