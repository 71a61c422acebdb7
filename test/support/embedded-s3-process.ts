import { startEmbeddedS3 } from '../../functions/local/servers.ts';

/**
 * The embedded S3 endpoint in a process of its own, for the kill -9 test: prints its endpoint as
 * one JSON line, then serves until killed. Arguments: <data dir> <bucket>.
 */
const [dataDir, bucket] = process.argv.slice(2);
if (!dataDir || !bucket) throw new Error('usage: embedded-s3-process.ts <data dir> <bucket>');
const s3 = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket });
process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint, port: s3.port })}\n`);
