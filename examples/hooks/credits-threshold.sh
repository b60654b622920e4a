#!/usr/bin/env bash
# A postToolUse hook that notifies a Slack channel the first time a session's
# usage passes a threshold, with no collector: otelcol-copilot-hook reads the
# session's usage so far (Option B) from whichever of the CLI's two records is
# further ahead — its session store ($COPILOT_HOME/session-store.db, a row per
# model call as the call ends) or its transcript (written in batches) — so the
# hook right after the model call that crossed the threshold sees it.
#
# Install it for a repository in .github/hooks/threshold.json (or for every
# repository in ~/.copilot/hooks/threshold.json):
#
#   {"version": 1, "hooks": {"postToolUse": [
#     {"type": "command", "bash": "path/to/credits-threshold.sh", "timeoutSec": 10}]}}
#
#   THRESHOLD_CREDITS  notify when the session's AI credits pass this (default 100), or
#   THRESHOLD_TOKENS   when its total tokens (input + output) pass this instead
#   SLACK_WEBHOOK_URL  an incoming webhook; without it the message goes to stderr
#   THRESHOLD_STATE    where to remember the sessions already notified
#                      (default ${XDG_STATE_HOME:-~/.local/state}/otelcol-copilot/threshold)
#
# A hook must never fail or stall the agent: every error is written to
# stderr and the script exits 0.
set -u

hook="$(command -v otelcol-copilot-hook || echo "$HOME/.local/bin/otelcol-copilot-hook")"
if ! vars="$("$hook" usage --session -)"; then
  echo "credits-threshold: no usage for this session yet" >&2
  exit 0
fi
eval "$vars"

# Compare exact decimals as integers: credits to nano-AIU, tokens as they are.
if [ -n "${THRESHOLD_TOKENS:-}" ]; then
  used="$COPILOT_SESSION_TOTAL_TOKENS" limit="$THRESHOLD_TOKENS" what="tokens"
else
  used="$COPILOT_SESSION_NANO_AIU" what="AI credits"
  limit="$(awk -v c="${THRESHOLD_CREDITS:-100}" 'BEGIN { printf "%.0f", c * 1e9 }')"
fi
if [ "$used" -le "$limit" ]; then
  exit 0
fi

# Once per session: the marker is created atomically, so two hooks of one
# session racing past the threshold send one message.
state="${THRESHOLD_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/otelcol-copilot/threshold}"
mkdir -p "$state" || exit 0
if ! (set -o noclobber && echo "$used" >"$state/$COPILOT_SESSION_ID") 2>/dev/null; then
  exit 0 # already notified
fi

text="Copilot session $COPILOT_SESSION_ID passed its $what threshold: $COPILOT_SESSION_AI_CREDITS AI credits, $COPILOT_SESSION_TOTAL_TOKENS tokens, $COPILOT_SESSION_COST $COPILOT_SESSION_CURRENCY (ticket ${COPILOT_SESSION_TICKET:-none}, model ${COPILOT_SESSION_MODEL:-unknown})"
if [ -z "${SLACK_WEBHOOK_URL:-}" ]; then
  echo "credits-threshold: $text" >&2
  exit 0
fi
if ! curl -sS --fail-with-body --max-time 5 -X POST -H "Content-Type: application/json" \
  --data "{\"text\": \"$text\"}" "$SLACK_WEBHOOK_URL" >/dev/null; then
  echo "credits-threshold: could not post to Slack" >&2
fi
exit 0
