package attribution

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileErrors bounds the errors reported for one mapping file.
const maxFileErrors = 10

// mapping is a parsed and compiled mapping file.
type mapping struct {
	rules   []compiledRule
	tickets map[string]string
}

// parseMapping parses a mapping file's content; path names it in errors
// ("<path>:<line>: ...") and, by its base name, in default rule names.
func parseMapping(path string, data []byte) (*mapping, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty mapping file (an empty mapping is \"rules: []\" or a CSV header)", path)
	}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return parseCSV(path, data)
	}
	return parseYAML(path, data)
}

// fileErrors collects errors about one file, each "<path>:<line>: ...".
type fileErrors struct {
	path string
	errs []error
	more int
}

func (fe *fileErrors) add(line int, format string, args ...any) {
	if len(fe.errs) >= maxFileErrors {
		fe.more++
		return
	}
	fe.errs = append(fe.errs, fmt.Errorf("%s:%d: %s", fe.path, line, fmt.Sprintf(format, args...)))
}

func (fe *fileErrors) err() error {
	if fe.more > 0 {
		fe.errs = append(fe.errs, fmt.Errorf("%s: and %d more errors", fe.path, fe.more))
	}
	return errors.Join(fe.errs...)
}

// names remembers explicit rule names, to refuse duplicates.
type names map[string]int

func (n names) check(fe *fileErrors, line int, where, name string) {
	if name == "" {
		return
	}
	if first, dup := n[name]; dup {
		fe.add(line, "%s: name: also the name of the rule on line %d", where, first)
		return
	}
	n[name] = line
}

// ruleName is a file rule's name: its own, or "<file>:<line>".
func ruleName(path string, line int, name string) string {
	if name != "" {
		return name
	}
	return filepath.Base(path) + ":" + strconv.Itoa(line)
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

func parseYAML(path string, data []byte) (*mapping, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty mapping file (an empty mapping is \"rules: []\")", path)
	}
	if err == nil {
		// A second document would be ignored: refuse it rather than drop
		// its rules silently.
		var more yaml.Node
		if derr := dec.Decode(&more); derr != io.EOF {
			if derr == nil {
				return nil, fmt.Errorf("%s:%d: a second YAML document; put every rule in one document", path, more.Line)
			}
			err = derr
		}
	}
	if err != nil {
		// "yaml: line 3: mapping values are not allowed in this context"
		// becomes "<path>:3: mapping values ...".
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			msg = msg[len(m[0]):]
			if m[1] != "" {
				return nil, fmt.Errorf("%s:%s: %s", path, m[1], msg)
			}
		}
		return nil, fmt.Errorf("%s: %s", path, msg)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty mapping file (an empty mapping is \"rules: []\")", path)
	}
	fe := &fileErrors{path: path}
	out := &mapping{}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		fe.add(root.Line, "want a mapping with the keys rules and tickets")
		return nil, fe.err()
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], deref(root.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			fe.add(k.Line, "%s: also given on line %d", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "rules":
			out.rules = yamlRules(fe, path, v)
		case "tickets":
			out.tickets = yamlTickets(fe, v)
		default:
			fe.add(k.Line, "unknown key %q (want rules, tickets)", k.Value)
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// yamlString is a scalar's text ("" for null); numbers and booleans are
// taken as written, so that cost_center: 1001 is "1001".
func yamlString(fe *fileErrors, where string, n *yaml.Node) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		fe.add(n.Line, "%s: want a string", where)
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// yamlFields reads a mapping of string fields into the pointers of want.
func yamlFields(fe *fileErrors, where string, n *yaml.Node, want map[string]*string, wantList string) bool {
	n = deref(n)
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		fe.add(n.Line, "%s: want a mapping with the keys %s", where, wantList)
		return false
	}
	ok := true
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if first, dup := seen[k.Value]; dup {
			fe.add(k.Line, "%s::%s: also given on line %d", where, k.Value, first)
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		p, known := want[k.Value]
		if !known {
			fe.add(k.Line, "%s: unknown key %q (want %s)", where, k.Value, wantList)
			ok = false
			continue
		}
		s, good := yamlString(fe, where+"::"+k.Value, n.Content[i+1])
		ok = ok && good
		*p = s
	}
	return ok
}

func yamlRules(fe *fileErrors, path string, n *yaml.Node) []compiledRule {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		fe.add(n.Line, "rules: want a list of rules")
		return nil
	}
	var rules []compiledRule
	seen := names{}
	for i, item := range n.Content {
		item = deref(item)
		// key is the rule's path, for its keys; where adds its name, for
		// what is wrong with the rule as a whole.
		key := fmt.Sprintf("rules::%d", i)
		where := key
		if item.Kind != yaml.MappingNode {
			fe.add(item.Line, "%s: want a mapping with the keys name, match, set", where)
			continue
		}
		var r Rule
		ok := true
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "name" {
				r.Name, ok = yamlString(fe, key+"::name", item.Content[j+1])
			}
		}
		if r.Name != "" {
			where += fmt.Sprintf(" (%q)", r.Name)
		}
		keys := map[string]int{}
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			if first, dup := keys[k.Value]; dup {
				fe.add(k.Line, "%s::%s: also given on line %d", key, k.Value, first)
				ok = false
				continue
			}
			keys[k.Value] = k.Line
			switch k.Value {
			case "name":
			case "match":
				ok = yamlFields(fe, key+"::match", v, map[string]*string{
					"repository": &r.Match.Repository,
					"branch":     &r.Match.Branch,
					"git_root":   &r.Match.GitRoot,
					"user":       &r.Match.User,
					"agent":      &r.Match.Agent,
				}, "repository, branch, git_root, user, agent") && ok
			case "set":
				ok = yamlFields(fe, key+"::set", v, map[string]*string{
					"team":        &r.Set.Team,
					"project":     &r.Set.Project,
					"cost_center": &r.Set.CostCenter,
					"ticket":      &r.Set.Ticket,
				}, "team, project, cost_center, ticket") && ok
			default:
				fe.add(k.Line, "%s: unknown key %q (want name, match, set)", where, k.Value)
				ok = false
			}
		}
		seen.check(fe, item.Line, where, r.Name)
		if !ok {
			continue
		}
		cr, err := compileRule(r, ruleName(path, item.Line, r.Name))
		if err != nil {
			fe.add(item.Line, "%s: %v", where, err)
			continue
		}
		rules = append(rules, cr)
	}
	return rules
}

func yamlTickets(fe *fileErrors, n *yaml.Node) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		fe.add(n.Line, "tickets: want a mapping of branch (or glob, or regex:) to ticket")
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		key, ok := yamlString(fe, "tickets key", k)
		if !ok {
			continue
		}
		if first, dup := lines[key]; dup {
			fe.add(k.Line, "tickets::%q: also given on line %d", key, first)
			continue
		}
		lines[key] = k.Line
		v, ok := yamlString(fe, fmt.Sprintf("tickets[%q]", key), n.Content[i+1])
		if !ok {
			continue
		}
		out[key] = v
		for _, err := range validateTickets("tickets", map[string]string{key: v}) {
			fe.add(k.Line, "%v", err)
		}
	}
	return out
}

// csvColumns are the columns a CSV mapping file may have.
var csvColumns = []string{"name", "repository", "branch", "git_root", "user", "agent", "team", "project", "cost_center", "ticket"}

func parseCSV(path string, data []byte) (*mapping, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	fe := &fileErrors{path: path}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: no header row (columns among %s)", path, strings.Join(csvColumns, ", "))
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	headerLine, _ := cr.FieldPos(0)
	col := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a spreadsheet's UTF-8 mark
		}
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case !slices.Contains(csvColumns, h):
			fe.add(headerLine, "unknown column %q (want columns among %s)", h, strings.Join(csvColumns, ", "))
		case col[h] > 0:
			fe.add(headerLine, "column %q given twice", h)
		default:
			col[h] = i + 1 // 0 is absent
		}
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	out := &mapping{}
	seen := names{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(fe.errs) > 0 {
				fe.errs = append(fe.errs, csvError(path, err))
				return nil, fe.err()
			}
			return nil, csvError(path, err)
		}
		line, _ := cr.FieldPos(0)
		cell := func(name string) string {
			if i := col[name]; i > 0 {
				return strings.TrimSpace(rec[i-1])
			}
			return ""
		}
		r := Rule{
			Name: cell("name"),
			Match: Match{
				Repository: cell("repository"),
				Branch:     cell("branch"),
				GitRoot:    cell("git_root"),
				User:       cell("user"),
				Agent:      cell("agent"),
			},
			Set: Set{
				Team:       cell("team"),
				Project:    cell("project"),
				CostCenter: cell("cost_center"),
				Ticket:     cell("ticket"),
			},
		}
		where := "row"
		if r.Name != "" {
			where = fmt.Sprintf("row %q", r.Name)
		}
		seen.check(fe, line, where, r.Name)
		c, err := compileRule(r, ruleName(path, line, r.Name))
		if err != nil {
			fe.add(line, "%s: %v", where, err)
			continue
		}
		out.rules = append(out.rules, c)
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %v", path, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %v", path, err)
}
