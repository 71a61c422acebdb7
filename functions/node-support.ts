/**
 * Imported first by every entry point that creates AWS SDK clients (npm start, its worker process,
 * npm run backfill). The SDK prints a ten-line NodeVersionSupportWarning once per process on
 * Node < 22: SDK releases after January 2027 will need Node 22. This project supports Node 20.19+
 * locally with the SDK versions in its lockfile (Lambda runs nodejs22.x), so the entry points turn
 * off exactly that warning with the SDK's own switch; every other warning still prints. Set
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false to see it again.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
