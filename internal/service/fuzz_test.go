package service

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzParseMetrics: whatever a metrics endpoint answers, the parser
// returns samples or an error, and never panics.
func FuzzParseMetrics(f *testing.F) {
	if b, err := os.ReadFile(realMetrics); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`m{a="b\"c\\",d="}"} 1 2` + "\n" + `n +Inf`))
	f.Add([]byte("m{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, err := ParseMetrics(bytes.NewReader(b))
		if err == nil {
			Summarize(samples)
		}
	})
}

// FuzzParsePlist: whatever is in the plist's place, the parser returns a
// value or an error, and never panics; what render writes parses.
func FuzzParsePlist(f *testing.F) {
	o := Options{OS: "darwin", Home: "/Users/me", Collector: "/usr/local/bin/otelcol-copilot", Gateway: "https://g.example"}
	_, b, err := o.Render()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`<plist version="1.0"><dict><key>A</key><array><integer>1</integer><real>2.5</real><true/></array></dict></plist>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParsePlist(bytes.NewReader(b)) //nolint:errcheck
	})
}

// FuzzRenderParse: the gateway and paths read back from the unit and the
// plist are the ones written, whatever their characters.
func FuzzRenderParse(f *testing.F) {
	f.Add("/opt/otel col/otelcol-copilot", "https://g.example:4318", `/home/me/"tok" %s $x & <y>`)
	f.Fuzz(func(t *testing.T, collector, gateway, token string) {
		if !strings.HasPrefix(collector, "/") {
			return
		}
		for _, goos := range []string{"linux", "darwin"} {
			o := Options{OS: goos, Home: "/home/me", Collector: collector, Gateway: gateway, GatewayTokenFile: token}
			_, b, err := o.Render()
			if err != nil {
				return // control characters are refused
			}
			m, _ := o.manager()
			inst, err := m.parse(b)
			if err != nil {
				t.Fatalf("%s: %v\n%s", goos, err, b)
			}
			if inst.Collector != collector || inst.Gateway != gateway || inst.GatewayTokenFile != token {
				t.Fatalf("%s: read back %+v\n%s", goos, inst, b)
			}
		}
	})
}
