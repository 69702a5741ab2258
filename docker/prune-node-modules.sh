#!/bin/sh
# Run by the Dockerfile's build stage in /app after `npm prune --omit=dev` (issue #11).
# Leaves out the agent binaries of providers the image is not built for, and files
# nothing loads at run time.
#
#   PROVIDERS  comma-separated: claude, codex (default both)
#
# Each agent SDK is small and stays, so the worker's code loads unchanged; what goes is
# the SDK's native agent binary, an optional dependency of its own package per platform
# (@anthropic-ai/claude-agent-sdk-<platform> ~400 MB, @openai/codex-<platform> ~410 MB).
# `npm ci --omit=optional` cannot choose between them: it drops both.
set -eu
cd "${1:-.}"
PROVIDERS=${PROVIDERS:-claude,codex}

claude=false codex=false
for provider in $(echo "$PROVIDERS" | tr ',' ' '); do
  case $provider in
    claude) claude=true ;;
    codex) codex=true ;;
    *) echo "prune-node-modules: unknown provider '$provider' in PROVIDERS=$PROVIDERS (claude, codex)" >&2; exit 1 ;;
  esac
done
$claude || $codex || { echo "prune-node-modules: PROVIDERS=$PROVIDERS names no provider" >&2; exit 1; }

# npm installs only the current platform's binary package, under these folder names.
$claude || rm -rf node_modules/@anthropic-ai/claude-agent-sdk-linux-* node_modules/@anthropic-ai/claude-agent-sdk-darwin-* \
  node_modules/@anthropic-ai/claude-agent-sdk-win32-*
$codex || rm -rf node_modules/@openai/codex-linux-* node_modules/@openai/codex-darwin-* node_modules/@openai/codex-win32-*

# Type declarations and source maps: read by editors and debuggers, never by node.
find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

# The providers left, for the image's label and for anyone who runs the image.
echo "$PROVIDERS" >node_modules/.providers
