package report

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
)

// LoadConfig reads the chargeback processor's attribution and pricing
// from a file: a collector configuration, whose processors::chargeback
// (or processors::chargeback/<name>, with name) is taken, or a file that
// holds just that block. Keys are the processor's; the other keys of the
// block (budgets, join, metrics, ...) are the processor's own and are not
// read. What the file does not set keeps the processor's default.
// Environment references in values are expanded as the collector expands
// them: ${env:NAME}, ${env:NAME:-default}, ${NAME}, and $$ for a $.
func LoadConfig(path, name string) (chargeback.Config, error) {
	return loadConfig(path, name, os.Getenv)
}

func loadConfig(path, name string, getenv func(string) string) (chargeback.Config, error) {
	cfg := chargeback.Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	block, where := root, ""
	id := "chargeback"
	if name != "" {
		id += "/" + name
	}
	if procs := child(root, "processors"); procs != nil {
		block, where = child(procs, id), "processors::"+id+"::"
		if block == nil {
			return cfg, fmt.Errorf("%s: no processors::%s", path, id)
		}
	} else if name != "" {
		return cfg, fmt.Errorf("%s: no processors section, and --processor %q names one", path, name)
	}
	if block.Kind == yaml.ScalarNode && block.Tag == "!!null" {
		return cfg, nil
	}
	if block.Kind != yaml.MappingNode {
		return cfg, fmt.Errorf("%s: %s is not a mapping", path, strings.TrimSuffix(where, "::"))
	}
	var errs []error
	for _, k := range []string{"attribution", "pricing"} {
		n := child(block, k)
		if n == nil {
			continue
		}
		var dst reflect.Value
		if k == "attribution" {
			dst = reflect.ValueOf(&cfg.Attribution).Elem()
		} else {
			dst = reflect.ValueOf(&cfg.Pricing).Elem()
		}
		if err := decode(n, dst, where+k, getenv); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Attribution.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %sattribution: %w", path, where, err)
	}
	if err := cfg.Pricing.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %spricing: %w", path, where, err)
	}
	return cfg, nil
}

// child is the value of key in a mapping node, nil when absent.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

var durationType = reflect.TypeOf(time.Duration(0))

// decode sets v from n by the mapstructure keys of v's fields, as the
// collector decodes a component's configuration: unknown keys are errors,
// durations are strings such as "10s", scalars are taken as written.
func decode(n *yaml.Node, v reflect.Value, where string, getenv func(string) string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	bad := func(want string) error {
		return fmt.Errorf("%s: line %d: want %s", where, n.Line, want)
	}
	if n.Kind == yaml.ScalarNode {
		val, err := expandEnv(n.Value, getenv)
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", where, n.Line, err)
		}
		c := *n
		c.Value = val
		n = &c
	}
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return bad("a duration such as 10s")
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			return bad("a string")
		}
		v.SetString(n.Value)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			return bad("an integer")
		}
		v.SetInt(i)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return bad("true or false")
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return bad("a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		var errs []error
		for i, e := range n.Content {
			errs = append(errs, decode(e, s.Index(i), fmt.Sprintf("%s::%d", where, i), getenv))
		}
		v.Set(s)
		return errors.Join(errs...)
	case v.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return bad("a mapping")
		}
		m := reflect.MakeMap(v.Type())
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			e := reflect.New(v.Type().Elem()).Elem()
			errs = append(errs, decode(n.Content[i+1], e, where+"::"+k, getenv))
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
		return errors.Join(errs...)
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return bad("a mapping")
		}
		fields := map[string]int{}
		for i := range v.NumField() {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ",")
			if tag != "" && tag != "-" {
				fields[tag] = i
			}
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			f, ok := fields[k]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: line %d: unknown key %q", where, n.Content[i].Line, k))
				continue
			}
			errs = append(errs, decode(n.Content[i+1], v.Field(f), where+"::"+k, getenv))
		}
		return errors.Join(errs...)
	default:
		return bad(v.Type().String())
	}
	return nil
}

// envRef is a reference the collector's env provider resolves.
var envRef = regexp.MustCompile(`\$\$|\$\{([^}]*)\}`)

var envName = regexp.MustCompile(`^(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$`)

// expandEnv expands ${env:NAME}, ${env:NAME:-default} and ${NAME} in s,
// and $$ to $; other providers (${file:...}) are refused.
func expandEnv(s string, getenv func(string) string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var err error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		if ref == "$$" {
			return "$"
		}
		m := envName.FindStringSubmatch(ref[2 : len(ref)-1])
		if m == nil {
			err = fmt.Errorf("%s: only environment references (${env:NAME}, ${env:NAME:-default}) are expanded", ref)
			return ref
		}
		if v := getenv(m[1]); v != "" {
			return v
		}
		return m[2]
	})
	return out, err
}
