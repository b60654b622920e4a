// Package attribution decides who pays for a piece of AI spend: it maps what
// is known of where the spend happened (repository, branch, git root, user,
// agent) to a team, a project, a cost center and a ticket. The chargeback
// processor calls [Resolver.Resolve] for every session, span, data point or
// log record it attributes. Resolve is safe for concurrent use and allocates
// nothing on its hot path.
//
// # Rules
//
// A rule has a match and a set:
//
//	attribution:
//	  rules:
//	    - name: payments
//	      match: {repository: "acme/payments-*"}
//	      set: {team: payments, project: payments-platform}
//	    - name: docs
//	      match: {git_root: "/home/*/src/docs-site", branch: "regex:main|release/.*"}
//	      set: {team: docs, ticket: DOC-1}
//	    - name: everyone
//	      set: {cost_center: CC-4100}
//
// A match constrains any of repository ("owner/name"), branch, git_root, user
// and agent ("main" or a subagent name such as "explore"). Every constraint
// given must hold (AND); a field left out is no constraint, so an empty match
// matches everything (a catch-all). A value is a glob, with the semantics of
// github.com/bmatcuk/doublestar/v4: '*' and '?' stay within a '/'-separated
// segment, "/**/" spans any number of segments, "[a-z]" is a class, "{a,b}"
// are alternatives and '\' escapes. A value prefixed "regex:" is a Go (RE2)
// regular expression that must match the whole input value: "regex:PAY-[0-9]+"
// does not match "feature/PAY-1". A value without any of "*?[{\" is compared
// for equality. Inputs are compared as given, case-sensitively: "Acme/API" is
// not "acme/api", and a git_root is the path as the CLI reported it (on
// Windows, with backslashes, which a glob reads as escapes: use a regex
// there). A constraint on a field the input lacks (an empty string) holds only
// if the value matches the empty string, as "**" and "regex:.*" do.
//
// A set gives any of team, project, cost_center and ticket; a rule that sets
// nothing is a configuration error. A rule's name, default "rules[i]", is
// reported in [Result.Rule].
//
// # Evaluation order and precedence
//
// Rules are evaluated in order: first the rules of the mapping file (the
// maintained source of truth), in file order, then the inline rules, in
// configuration order. Each field is decided separately: team, project and
// cost center each come from the first matching rule that sets that field. A
// later rule therefore fills only what earlier matching rules left unset, so
// a catch-all at the end can give everyone a cost center while the rules
// before it give teams. [Result.Rule] is the name of the rule that set the
// team, or, when no rule set a team, of the rule that set the project, or
// else the cost center; it is empty when none of the three was set.
//
// The ticket is decided by the first of these that gives one, and
// [Result.TicketSource] says which:
//
//  1. "mapping": ticket.mapping (merged with the mapping file's tickets). The
//     branch is looked up as an exact key first; then the keys that are globs
//     or "regex:" expressions are tried against the branch in sorted key
//     order, and the first that matches wins.
//  2. "rule": the first matching rule that sets a ticket, in the rule order
//     above.
//  3. "pattern": ticket.pattern, searched for in the branch.
//
// That is: whatever is written down beats what is guessed from the branch
// name, and what is written down for a branch beats what is written down for
// a class of work. A rule's ticket thus overrides the ticket the branch names;
// to give unticketed work a standing ticket, constrain the rule to those
// branches (branch: "main", branch: "chore/**") or use ticket.mapping.
//
// # Ticket pattern
//
// ticket.pattern is a Go regular expression searched for (unanchored) in the
// branch. Its first capture group is the ticket, or the whole match when it
// has no group; an empty result is no ticket. The default,
// [DefaultTicketPattern], finds Jira-style keys that start the branch or
// follow a character that is not an ASCII letter or digit:
// "feature/PAY-4411-refund-retries" gives "PAY-4411"; "main" and
// "chore/update-deps" give none. "none" turns extraction off. The default is
// matched by hand-written code proven equal to the expression by a fuzz
// test; any other pattern costs a regular-expression search per distinct
// branch (results are cached).
//
// # Unattributed
//
// A field nothing decided is [Config.Unattributed] ("unattributed" unless
// configured): a Result never has an empty team, project, cost center or
// ticket, and the spend is never dropped.
//
// # Mapping file
//
// mapping_file names a YAML (.yaml, .yml) or CSV (.csv) file read by [New]
// (and [Config.ValidateMappingFile], for the collector's validation); a
// relative path is relative to the collector's working directory. A missing,
// empty or malformed file at startup is an error naming the file and the line.
// The YAML form has the inline shape, plus tickets merged into ticket.mapping
// (the file's entry wins over an inline one with the same key):
//
//	rules:
//	  - name: ledger                      # optional
//	    match: {repository: acme/ledger}
//	    set: {team: payments, cost_center: CC-1001}
//	tickets:
//	  "release/**": REL-100
//	  main: OPS-1
//
// A CSV file has a header row naming its columns, in any order, among
// name, repository, branch, git_root, user, agent, team, project,
// cost_center and ticket (case-insensitive; an unknown or repeated column is
// an error naming it). Each following row is a rule; an empty cell is no
// constraint (match columns) or not set (set columns); cells are trimmed of
// surrounding spaces; lines starting with '#' are comments:
//
//	repository,branch,team,project,cost_center,ticket
//	acme/payments-api,,payments,payments-platform,CC-1001,
//	acme/docs-site,chore/**,docs,,,DOC-7
//
// A rule from the file is named by its name (YAML name key, CSV name column)
// or else "<file>:<line>", the file's base name and the line the rule starts
// on: "teams.csv:3".
//
// Every reload_interval (default 10s) the file's size, modification time and
// identity are checked; when they change the file is read again and the new
// mapping replaces the old one at once (Resolve sees either the old or the
// new mapping, never part of a file). A file that cannot be read or parsed
// leaves the previous mapping in place, is logged with the file and line, and
// is counted in [Stats.ReloadErrors] once per version of the file. A file
// that changes while it is being read is read again at the next check.
// Replace the file atomically (write a temporary file, then rename it over
// the old one) so that no check sees it half-written; an empty file is
// refused for the same reason ("rules: []" is an empty mapping).
package attribution
