import { Writable } from 'node:stream';

/** In-memory stdout/stderr for running an entry point as a function; `text()` is what a user saw. */
export function captureStream(isTTY = false) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

export function captureOutput() {
  const stdout = captureStream();
  const stderr = captureStream();
  return {
    output: { stdout: stdout.stream, stderr: stderr.stream },
    stdout: stdout.text,
    stderr: stderr.text,
  };
}
