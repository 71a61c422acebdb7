#!/bin/sh
# The stand-in base's entry point: the handler (CMD) goes to the runtime interface client, which
# talks to the Runtime API at $AWS_LAMBDA_RUNTIME_API (the test's loopback server).
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  echo "AWS_LAMBDA_RUNTIME_API is not set: this stand-in image runs only against a Runtime API" >&2
  exit 1
fi
# As in Lambda, the handler named by CMD reaches the runtime client as _HANDLER.
export _HANDLER="${1:-${_HANDLER}}"
exec /var/lang/bin/node /var/runtime/node_modules/aws-lambda-ric/index.mjs
