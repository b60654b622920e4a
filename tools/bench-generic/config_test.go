package main

import (
	"bytes"
	"slices"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// TestConfigTemplates renders the committed configs as runCollector does
// and checks that every pipeline names components the config defines.
func TestConfigTemplates(t *testing.T) {
	for _, file := range []string{"generic.yaml", "ours.yaml"} {
		for _, data := range []configData{
			{Glob: "/c/*/events.jsonl", StateDir: "/s", Exporter: "file", OutFile: "/o/metrics.jsonl"},
			{Glob: "/c/*/events.jsonl", StateDir: "/s", Exporter: "otlp_grpc", OTLPEndpoint: "127.0.0.1:1"},
			{Glob: "/c/*/events.jsonl", StateDir: "/s", Exporter: "file", OutFile: "/o/metrics.jsonl", ParseAll: true},
		} {
			tmpl, err := template.ParseFiles(file)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := tmpl.Execute(&b, data); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var cfg struct {
				Extensions map[string]any `yaml:"extensions"`
				Receivers  map[string]struct {
					Include   []string         `yaml:"include"`
					Session   map[string]any   `yaml:"session_state"`
					Operators []map[string]any `yaml:"operators"`
				} `yaml:"receivers"`
				Processors map[string]any `yaml:"processors"`
				Connectors map[string]any `yaml:"connectors"`
				Exporters  map[string]any `yaml:"exporters"`
				Service    struct {
					Extensions []string `yaml:"extensions"`
					Pipelines  map[string]struct {
						Receivers, Processors, Exporters []string
					} `yaml:"pipelines"`
				} `yaml:"service"`
			}
			if err := yaml.Unmarshal(b.Bytes(), &cfg); err != nil {
				t.Fatalf("%s %+v: %v\n%s", file, data, err, b.String())
			}
			defined := func(kind string, ids []string, in ...map[string]any) {
				for _, id := range ids {
					if !slices.ContainsFunc(in, func(m map[string]any) bool { _, ok := m[id]; return ok }) {
						t.Errorf("%s (%s): %s %q is used but not defined", file, data.Exporter, kind, id)
					}
				}
			}
			receivers := map[string]any{}
			for id := range cfg.Receivers {
				receivers[id] = true
			}
			defined("extension", cfg.Service.Extensions, cfg.Extensions)
			if len(cfg.Service.Pipelines) == 0 {
				t.Errorf("%s: no pipelines", file)
			}
			for _, p := range cfg.Service.Pipelines {
				defined("receiver", p.Receivers, receivers, cfg.Connectors)
				defined("processor", p.Processors, cfg.Processors)
				defined("exporter", p.Exporters, cfg.Exporters, cfg.Connectors)
			}
			if _, ok := cfg.Exporters[data.Exporter]; !ok || len(cfg.Exporters) != 1 {
				t.Errorf("%s: exporters %v, want only %s", file, cfg.Exporters, data.Exporter)
			}
			if file == "generic.yaml" {
				ops := cfg.Receivers["file_log"].Operators
				if got := cfg.Receivers["file_log"].Include; len(got) != 1 || got[0] != data.Glob {
					t.Errorf("file_log include %v", got)
				}
				hasFilter := len(ops) > 0 && ops[0]["type"] == "filter"
				if hasFilter == data.ParseAll || ops[len(ops)-1]["type"] != "json_parser" {
					t.Errorf("ParseAll %v: operators %v", data.ParseAll, ops)
				}
			}
		}
	}
}
