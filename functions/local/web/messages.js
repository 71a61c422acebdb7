// Sentences for what only the browser sees go wrong (no API answer to show): a plain ES module,
// shared by the page (app.js) and its test.

/** fetch() itself failed: the server is gone or the network is down. */
export const API_UNREACHABLE =
  'Cannot reach the upload API (is npm start still running?): check the connection and try again.';
/** The browser lost the connection while sending the file to storage. */
export const UPLOAD_INTERRUPTED =
  'The upload was interrupted: check the connection and upload the file again.';

/** S3 (or s3rver) refused the presigned POST; it answers XML with a Code and a Message. */
export function storageRefusal(status, body) {
  const code = /<Code>([^<]*)<\/Code>/.exec(body ?? '')?.[1] ?? '';
  const message = /<Message>([^<]*)<\/Message>/.exec(body ?? '')?.[1] ?? '';
  if (code === 'EntityTooLarge') {
    return 'The file is larger than the upload form allows: make it smaller and try again.';
  }
  if (code === 'EntityTooSmall') {
    return 'The file is empty (0 bytes): choose the image file itself and upload it again.';
  }
  if (code === 'AccessDenied' && /expired/i.test(message)) {
    return 'The upload form expired (it lasts 5 minutes): upload the file again.';
  }
  const why = message || code || `HTTP ${status}`;
  return `The storage refused the file (${why}): upload it again; if it keeps failing, the form may have been changed.`;
}

const filesWord = (n) => `${n} file${n === 1 ? '' : 's'}`;

/** The notice after a drop: only the files that reached storage count as sent. */
export function sentSummary(sent, total) {
  if (sent === total) return `${filesWord(sent)} sent; the cards below update as descriptions arrive.`;
  const refused = total - sent;
  const why = `${refused === 1 ? 'its card says' : 'their cards say'} why`;
  if (sent === 0) return `No file sent: ${why}.`;
  return `${filesWord(sent)} sent; ${refused} of ${total} ${refused === 1 ? 'was' : 'were'} not sent: ${why}. The cards below update as descriptions arrive.`;
}
