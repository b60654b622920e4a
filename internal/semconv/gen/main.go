// Command gen writes the names of the copilot receiver's telemetry, read
// from its metadata.yaml and histograms.yaml, as Go constants of package
// semconv, and the table of the histograms into the receiver's README. The
// receiver's doc.go runs it after mdatagen:
//
//	//go:generate go run ../../internal/semconv/gen
//
// It runs in the receiver's directory; the paths below are relative to it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

func main() {
	metadataPath := flag.String("metadata", "metadata.yaml", "the receiver's metadata.yaml")
	histogramsPath := flag.String("histograms", "histograms.yaml", "the histograms mdatagen cannot describe")
	out := flag.String("out", "../../internal/semconv/generated_names.go", "the Go file to write")
	readme := flag.String("readme", "README.md", "the README whose histogram table to rewrite")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("semconv/gen: ")

	md, err := load(*metadataPath, *histogramsPath)
	if err != nil {
		log.Fatal(err)
	}
	src, err := goFile(md)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
	text, err := os.ReadFile(*readme)
	if err != nil {
		log.Fatal(err)
	}
	text, err = withHistogramTable(text, md)
	if err != nil {
		log.Fatalf("%s: %v", *readme, err)
	}
	if err := os.WriteFile(*readme, text, 0o644); err != nil {
		log.Fatal(err)
	}
}

// metadata is what the generator reads of the receiver's metadata.yaml
// (mdatagen's format) and histograms.yaml.
type metadata struct {
	Source             string               `yaml:"-"` // the files, for the header
	Scope              string               `yaml:"-"` // the receiver's import path, mdatagen's scope name
	ScopeName          string               `yaml:"scope_name"`
	ResourceAttributes map[string]attribute `yaml:"resource_attributes"`
	Attributes         map[string]attribute `yaml:"attributes"`
	Metrics            map[string]metric    `yaml:"metrics"`
	Events             map[string]event     `yaml:"events"`
	Histograms         map[string]metric    `yaml:"-"`
}

type attribute struct {
	Description string   `yaml:"description"`
	Enum        []string `yaml:"enum"`
}

type metric struct {
	Description           string   `yaml:"description"`
	ExtendedDocumentation string   `yaml:"extended_documentation"`
	Unit                  string   `yaml:"unit"`
	Attributes            []string `yaml:"attributes"`
}

type event struct {
	Description string   `yaml:"description"`
	Attributes  []string `yaml:"attributes"`
}

// load reads both files. The histograms may only use attributes that
// metadata.yaml declares.
func load(metadataPath, histogramsPath string) (*metadata, error) {
	md := &metadata{}
	if err := decode(metadataPath, md); err != nil {
		return nil, err
	}
	var h struct {
		Histograms map[string]metric `yaml:"histograms"`
	}
	if err := decode(histogramsPath, &h); err != nil {
		return nil, err
	}
	md.Histograms = h.Histograms
	var errs []error
	for name, m := range md.Histograms {
		if _, dup := md.Metrics[name]; dup {
			errs = append(errs, fmt.Errorf("%s: histogram %s is also a metric of %s", histogramsPath, name, metadataPath))
		}
		if m.Description == "" || m.Unit == "" {
			errs = append(errs, fmt.Errorf("%s: histogram %s needs a description and a unit", histogramsPath, name))
		}
		for _, a := range m.Attributes {
			if _, ok := md.Attributes[a]; !ok {
				errs = append(errs, fmt.Errorf("%s: histogram %s: attribute %s is not in the attributes of %s", histogramsPath, name, a, metadataPath))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	md.Scope = md.ScopeName
	if md.Scope == "" {
		var err error
		if md.Scope, err = importPath(filepath.Dir(metadataPath)); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(metadataPath)
	if err != nil {
		return nil, err
	}
	root, _, err := moduleOf(filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
	rel := func(p string) string {
		a, _ := filepath.Abs(p)
		r, _ := filepath.Rel(root, a)
		return filepath.ToSlash(r)
	}
	md.Source = rel(metadataPath) + " and " + rel(histogramsPath)
	return md, nil
}

func decode(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// importPath is the import path of the package in dir, as mdatagen
// derives the scope name: the module's path and dir below the module root.
func importPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	root, module, err := moduleOf(abs)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", err
	}
	if rel == "." {
		return module, nil
	}
	return module + "/" + filepath.ToSlash(rel), nil
}

// moduleOf finds the go.mod at or above dir and returns its directory and
// module path.
func moduleOf(dir string) (root, module string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return d, strings.Trim(strings.TrimSpace(rest), `"`), nil
				}
			}
			return "", "", fmt.Errorf("%s: no module line", filepath.Join(d, "go.mod"))
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("no go.mod at or above %s", dir)
		}
	}
}

// goFile renders the names as Go source.
func goFile(md *metadata) ([]byte, error) {
	if err := checkIdents(md); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("// Code generated by internal/semconv/gen from %s. DO NOT EDIT.\n\n", md.Source)
	p("package semconv\n\n")
	p("// ReceiverScope is the instrumentation scope of the copilot receiver's telemetry.\n")
	p("const ReceiverScope = %q\n\n", md.Scope)

	p("// Metrics of the copilot receiver.\nconst (\n")
	metrics := map[string]metric{}
	for name, m := range md.Metrics {
		metrics[name] = m
	}
	for name, m := range md.Histograms {
		metrics[name] = m
	}
	for _, name := range sorted(metrics) {
		m := metrics[name]
		p("\t// %s (%s): %s\n", ident("Metric", name), m.Unit, oneLine(m.Description))
		p("\t%s = %q\n", ident("Metric", name), name)
	}
	p(")\n\n")

	attrs := map[string]attribute{}
	for name, a := range md.ResourceAttributes {
		attrs[name] = a
	}
	for name, a := range md.Attributes {
		attrs[name] = a
	}
	p("// Attributes of the copilot receiver's data points, log records and resources.\nconst (\n")
	for _, name := range sorted(attrs) {
		p("\t// %s: %s\n", ident("Attr", name), oneLine(attrs[name].Description))
		p("\t%s = %q\n", ident("Attr", name), name)
	}
	p(")\n\n")

	p("// Values of the attributes that take one of a fixed set.\nconst (\n")
	for _, name := range sorted(attrs) {
		for _, v := range attrs[name].Enum {
			p("\t%s = %q\n", ident("", name+"."+v), v)
		}
	}
	p(")\n\n")

	p("// Events of the copilot receiver (the event names of its log records).\nconst (\n")
	for _, name := range sorted(md.Events) {
		p("\t// %s: %s\n", ident("Event", name), oneLine(md.Events[name].Description))
		p("\t%s = %q\n", ident("Event", name), name)
	}
	p(")\n\n")

	p("// Histograms returns the histogram metrics, which the metadata generator\n")
	p("// of collector v0.159.0 cannot describe (histograms.yaml).\n")
	p("func Histograms() []Histogram {\n\treturn []Histogram{\n")
	for _, name := range sorted(md.Histograms) {
		m := md.Histograms[name]
		var as []string
		for _, a := range m.Attributes {
			as = append(as, ident("Attr", a))
		}
		p("\t\t{Name: %s, Description: %q, Unit: %q, Attributes: []string{%s}},\n", ident("Metric", name), oneLine(m.Description), m.Unit, strings.Join(as, ", "))
	}
	p("\t}\n}\n")
	return format.Source(b.Bytes())
}

// checkIdents refuses two names that would make the same identifier
// ("a.b_c" and "a_b.c").
func checkIdents(md *metadata) error {
	seen := map[string]string{}
	var errs []error
	add := func(id, name string) {
		if other, ok := seen[id]; ok && other != name {
			errs = append(errs, fmt.Errorf("%s and %s would both be %s", other, name, id))
		}
		seen[id] = name
	}
	for _, name := range sorted(md.Metrics) {
		add(ident("Metric", name), name)
	}
	for _, name := range sorted(md.Histograms) {
		add(ident("Metric", name), name)
	}
	for _, attrs := range []map[string]attribute{md.Attributes, md.ResourceAttributes} {
		for _, name := range sorted(attrs) {
			add(ident("Attr", name), name)
			for _, v := range attrs[name].Enum {
				add(ident("", name+"."+v), name+"="+v)
			}
		}
	}
	for _, name := range sorted(md.Events) {
		add(ident("Event", name), name)
	}
	return errors.Join(errs...)
}

// Histogram table in the README, between these markers.
const (
	tableBegin = "<!-- histograms: generated from histograms.yaml by go generate; do not edit -->"
	tableEnd   = "<!-- end of histograms -->"
)

// withHistogramTable replaces the README's table of histograms.
func withHistogramTable(readme []byte, md *metadata) ([]byte, error) {
	before, rest, ok := bytes.Cut(readme, []byte(tableBegin))
	if !ok {
		return nil, fmt.Errorf("no %s", tableBegin)
	}
	_, after, ok := bytes.Cut(rest, []byte(tableEnd))
	if !ok {
		return nil, fmt.Errorf("no %s", tableEnd)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(tableBegin + "\n\n")
	b.WriteString("| metric | unit | attributes | |\n|---|---|---|---|\n")
	for _, name := range sorted(md.Histograms) {
		m := md.Histograms[name]
		var as []string
		for _, a := range m.Attributes {
			as = append(as, "`"+a+"`")
		}
		doc := oneLine(m.Description)
		if m.ExtendedDocumentation != "" {
			doc += " " + oneLine(m.ExtendedDocumentation)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", name, m.Unit, strings.Join(as, ", "), doc)
	}
	b.WriteString("\n" + tableEnd)
	b.Write(after)
	return b.Bytes(), nil
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// initialisms are written in capitals in identifiers, as Go names them.
var initialisms = map[string]bool{"ai": true, "aiu": true, "api": true, "cli": true, "http": true, "id": true, "uid": true, "url": true, "vcs": true}

// ident makes an exported Go identifier of a telemetry name:
// ident("Attr", "gen_ai.request.model") is AttrGenAIRequestModel.
func ident(prefix, name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if initialisms[strings.ToLower(w)] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}
