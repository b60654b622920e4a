#!/usr/bin/env bash
# A sessionEnd hook that writes the session's AI spend into a field of its
# Jira ticket, with no collector: otelcol-copilot-hook reads the session's
# usage from its transcript (Option B) and attributes and prices it with the
# chargeback processor's code; one curl sets the field.
#
# Install it for a repository in .github/hooks/jira.json (or for every
# repository in ~/.copilot/hooks/jira.json):
#
#   {"version": 1, "hooks": {"sessionEnd": [
#     {"type": "command", "bash": "path/to/jira-session-end.sh", "timeoutSec": 15}]}}
#
#   JIRA_BASE_URL      https://your-site.atlassian.net (or your Data Center's base URL)
#   JIRA_FIELD         the field to set, e.g. customfield_10050 (a text field on the issue's edit screen)
#   JIRA_EMAIL, JIRA_API_TOKEN   Jira Cloud (REST v3, basic auth), or
#   JIRA_PAT                     Jira Data Center/Server (REST v2, bearer)
#   CHARGEBACK_CONFIG  optional: the chargeback processor's configuration, for teams and prices
#
# The field shows this session's usage ("AI Credits: 2.5, Tokens: 49461"); a
# ticket worked on in several sessions shows the last one. The jira exporter
# of a central collector keeps the ticket's total instead.
#
# A hook must never fail or stall the agent: every error is written to
# stderr and the script exits 0.
set -u

# The CLI runs hooks with the user's PATH, which may not have the install
# directory on it: fall back to where `otelcol-copilot-hook install` puts it.
hook="$(command -v otelcol-copilot-hook || echo "$HOME/.local/bin/otelcol-copilot-hook")"
args=(usage --session -)
if [ -n "${CHARGEBACK_CONFIG:-}" ]; then args+=(--config "$CHARGEBACK_CONFIG"); fi
if ! vars="$("$hook" "${args[@]}")"; then
  echo "jira-session-end: no usage for this session" >&2
  exit 0
fi
eval "$vars"

ticket="${COPILOT_SESSION_TICKET:-}"
if [ -z "$ticket" ] || [ "$ticket" = unattributed ]; then
  exit 0 # the branch names no ticket
fi

if [ -n "${JIRA_PAT:-}" ]; then
  api=2
  auth=(-H "Authorization: Bearer $JIRA_PAT")
else
  api=3
  auth=(-u "${JIRA_EMAIL:-}:${JIRA_API_TOKEN:-}")
fi
value="AI Credits: $COPILOT_SESSION_AI_CREDITS, Tokens: $COPILOT_SESSION_TOTAL_TOKENS, Cost: $COPILOT_SESSION_COST $COPILOT_SESSION_CURRENCY"
if ! curl -sS --fail-with-body --max-time 10 -X PUT "${auth[@]}" \
  -H "Content-Type: application/json" \
  --data "{\"fields\": {\"$JIRA_FIELD\": \"$value\"}}" \
  "$JIRA_BASE_URL/rest/api/$api/issue/$ticket" >/dev/null; then
  echo "jira-session-end: could not set $JIRA_FIELD of $ticket" >&2
fi
exit 0
